import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readChat } from '../../src/cli/commands/predict-generate.js';
import { tempDir } from '../helpers.js';

describe('predict --chat FILE|MESSAGE', () => {
  it('reads a file of messages; sends any other text as one user message, warning when it looks like a mistyped path', async () => {
    const dir = tempDir('modelctl-chat-');
    const file = join(dir, 'talk.jsonl');
    writeFileSync(file, '{"role": "user", "content": "hi"}\n');
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    expect(await readChat(file, warn)).toEqual([{ role: 'user', content: 'hi' }]);
    await expect(readChat(join(dir, 'missing.jsonl'), warn)).rejects.toMatchObject({ code: 'PATH_NOT_FOUND' });
    for (const message of ['hello there.', 'what is 2.5?', 'Hi.', 'e.g.', 'hello', 'see https://example.org/a.txt'])
      expect(await readChat(message, warn)).toEqual([{ role: 'user', content: message }]);
    expect(warnings).toEqual([]);
    for (const path of ['conversation.txt', join(dir, 'chats', 'a')]) {
      expect(await readChat(path, warn)).toEqual([{ role: 'user', content: path }]);
      expect(warnings.pop()).toBe(`no file named ${path}: --chat sends it to the model as one user message`);
    }
  });
});
