/**
 * Whisper's --language by name (src/tasks/whisper-languages.ts): names of Whisper's LANGUAGES table and the
 * tokenizer's extra names, in any case, stand for their codes; codes stay codes; and whisperPrompt picks the
 * fixture model's language token for a name as for its code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { whisperPrompt } from '../../src/tasks/speech-recognition.js';
import { whisperLanguageCode } from '../../src/tasks/whisper-languages.js';
import { FIXTURES } from '../helpers.js';

const GENERATION = JSON.parse(readFileSync(join(FIXTURES, 'asr-whisper-tiny', 'generation_config.json'), 'utf8')) as Record<
  string,
  unknown
>;

describe('Whisper language names', () => {
  it('names (any case) and the extra names give codes; codes stay as they are, lower-cased', () => {
    const cases: Array<[string, string]> = [
      ['english', 'en'],
      ['French', 'fr'],
      ['GERMAN', 'de'],
      ['haitian creole', 'ht'],
      ['haitian', 'ht'],
      ['Mandarin', 'zh'],
      ['castilian', 'es'],
      ['cantonese', 'yue'],
      ['hawaiian', 'haw'],
      ['en', 'en'],
      ['FR', 'fr'],
      ['xx', 'xx'],
    ];
    for (const [name, code] of cases) expect(whisperLanguageCode(name), name).toBe(code);
  });

  it('whisperPrompt: a name picks the same language token as its code; an unknown or absent language is refused', () => {
    const en = whisperPrompt(GENERATION, { language: 'en' });
    expect(whisperPrompt(GENERATION, { language: 'English' })).toEqual(en);
    expect(whisperPrompt(GENERATION, { language: 'french', task: 'translate' })).toEqual(
      whisperPrompt(GENERATION, { language: '<|fr|>', task: 'translate' }),
    );
    expect(() => whisperPrompt(GENERATION, { language: 'spanish' })).toThrow(/the model knows no language "spanish"/);
    expect(() => whisperPrompt(GENERATION, { language: 'klingon' })).toThrow(/the model knows no language "klingon"/);
  });
});
