/**
 * The help of predict, serve and bench tells a user about the generative and audio tasks: which tasks predict runs,
 * which files an audio model reads, the generation and speech flags, and serve's OpenAI-compatible endpoints.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';

function helpOf(name: string): string {
  const c = buildProgram().commands.find((x) => x.name() === name) as Command;
  let help = '';
  c.configureOutput({ writeOut: (s) => (help += s) });
  c.outputHelp();
  // Commander wraps at the terminal's width: compare the words, not the lines.
  return help.replace(/\s+/g, ' ');
}

describe('help of the generative and audio tasks', () => {
  it('predict names every task it runs, audio files beyond WAV, the new flags and an example per new task', () => {
    const help = helpOf('predict');
    const summary = help.slice(0, help.indexOf('Arguments:'));
    for (const task of [
      'text-generation',
      'text2text-generation',
      'translation',
      'summarization',
      'fill-mask',
      'zero-shot-classification',
      'image-to-text',
      'audio-classification',
      'automatic-speech-recognition',
    ])
      expect(summary, task).toContain(task);
    expect(help).toContain('audio files (WAV, FLAC, MP3) for an audio model');
    expect(help).not.toMatch(/a WAV file for an audio model|WAV files for an image or audio model/);
    for (const flag of [
      '--max-new-tokens <n>',
      '--sample',
      '--no-sample',
      '--temperature <t>',
      '--top-p <p>',
      '--seed <n>',
      '--repetition-penalty <r>',
      '--stop <text>',
      '--num-beams <n>',
      '--chat <file|prompt>',
      '--language <code>',
      '--speech-task <task>',
      '--chunk-length <seconds>',
      '--stride <seconds>',
      '--return-timestamps',
      '--no-convert',
      '--python <path>',
    ])
      expect(help, flag).toContain(flag);
    for (const example of ['modelctl predict gpt2', 'modelctl predict t5', 'modelctl predict whisper', 'modelctl predict captioner'])
      expect(help, example).toContain(example);
  });

  it('serve names the OpenAI-compatible endpoints and shows a streamed chat completion', () => {
    const help = helpOf('serve');
    expect(help).toContain('OpenAI-compatible /v1/chat/completions and /v1/completions');
    expect(help).toMatch(/curl -N localhost:8080\/v1\/chat\/completions .*"stream":true/);
    expect(help).toContain('--no-convert');
  });

  it('export says where --out puts a model of several files', () => {
    expect(helpOf('export')).toContain(
      '--out <path> also write the ONNX file here; a model exported as several files (encoder and decoder) needs a folder (a name ending in .onnx is refused)',
    );
  });

  it('bench describes its text-generation figures and flags', () => {
    const help = helpOf('bench');
    expect(help).toContain('time to first token');
    for (const flag of ['--prompt-tokens <list>', '--new-tokens <n>', '--no-convert']) expect(help, flag).toContain(flag);
  });
});
