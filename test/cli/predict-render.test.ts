/**
 * predict's tables for the generative tasks, from PredictResults shaped as the tasks return them: what a person at
 * a terminal sees (the JSON output is the result itself and needs no renderer).
 */
import { describe, expect, it } from 'vitest';
import { Output } from '../../src/cli/render/output.js';
import { renderResult } from '../../src/cli/render/predict.js';
import type { PredictResult } from '../../src/predict/types.js';

const out = new Output({ json: false, verbose: false, color: false });

function result(task: string, predictions: PredictResult['predictions']): PredictResult {
  return { model: 'm:1.0.0', task, taskReason: 'test', provider: 'cpu', timings: { loadMs: 0, runMs: 0 }, predictions };
}

const lines = (text: string) => text.split('\n').map((l) => l.trimEnd());

describe('predict tables: automatic-speech-recognition', () => {
  it('shows each file’s language and whole transcript (not the audio-classification LABEL/SCORE columns)', () => {
    const long = 'and so my fellow Americans ask not what your country can do for you, ask what you can do for your country';
    const r = result('automatic-speech-recognition', [
      { text: ` ${long}`, language: 'en', tokens: [1], windows: [] },
      { text: ' Bonjour\tle monde\n', language: 'fr', tokens: [2], windows: [] },
    ]);
    const table = renderResult(out, r, { kind: 'audio', files: ['talk.wav', 'salut.mp3'] }, undefined);
    expect(lines(table)).toEqual(['AUDIO      LANGUAGE  TEXT', `talk.wav   en        ${long}`, 'salut.mp3  fr        Bonjour le monde']);
  });

  it('with timestamps: one row per chunk with its start and end seconds (an open end is "?")', () => {
    const r = result('automatic-speech-recognition', [
      {
        text: ' one two',
        language: 'en',
        tokens: [1],
        windows: [],
        chunks: [
          { timestamp: [0, 1.5], text: ' one' },
          { timestamp: [1.5, null], text: ' two' },
        ],
      },
      { text: '', language: 'en', tokens: [], windows: [], chunks: [] },
    ]);
    const table = renderResult(out, r, { kind: 'audio', files: ['a.wav', 'silence.wav'] }, undefined);
    expect(lines(table)).toEqual([
      'AUDIO        LANGUAGE  TIME       TEXT',
      'a.wav        en        0.00-1.50  one',
      '                       1.50-?     two',
      'silence.wav  en        -',
    ]);
  });

  it('audio classification keeps its LABEL and SCORE columns', () => {
    const r = result('audio-classification', [{ labels: [{ label: 'yes', score: 0.75 }] }]);
    expect(lines(renderResult(out, r, { kind: 'audio', files: ['yes.wav'] }, undefined))).toEqual([
      'AUDIO    LABEL  SCORE',
      'yes.wav  yes    0.7500',
    ]);
  });
});
