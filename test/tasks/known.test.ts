import { describe, expect, it } from 'vitest';
import { aTaskModel, checkRunnableTask } from '../../src/tasks/known.js';

describe('task names in messages', () => {
  it('take the article their sound needs', () => {
    expect(aTaskModel('automatic-speech-recognition')).toBe('an automatic-speech-recognition model');
    expect(aTaskModel('image-to-text')).toBe('an image-to-text model');
    expect(aTaskModel('audio-classification')).toBe('an audio-classification model');
    expect(aTaskModel('text-generation')).toBe('a text-generation model');
    expect(aTaskModel('zero-shot-classification')).toBe('a zero-shot-classification model');
  });

  it('a known task predict does not run is NOT_AVAILABLE (exit 9), an unknown name a USAGE error (exit 2)', () => {
    expect(() => checkRunnableTask('depth-estimation', ['text-classification'], 'predict')).toThrow(
      expect.objectContaining({ exitCode: 9 }),
    );
    expect(() => checkRunnableTask('text-clasification', ['text-classification'], 'predict')).toThrow(
      expect.objectContaining({ exitCode: 2 }),
    );
    expect(() => checkRunnableTask('text-classification', ['text-classification'], 'predict')).not.toThrow();
  });
});
