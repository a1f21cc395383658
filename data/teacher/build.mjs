// Rebuilds data/teacher/teacher.jsonl from the shared datasets (../shared/datasets),
// keeping only Apache-2.0 sources. Deterministic: same inputs, same bytes out.
// Usage: node data/teacher/build.mjs [DATASETS_DIR]   (default: <repo>/../shared/datasets)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const ds = path.resolve(process.argv[2] || path.join(root, '..', 'shared', 'datasets'));
const readJsonl = (p) =>
  fs.readFileSync(path.join(ds, p), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

const out = [];
const counts = {};
const add = (rec) => {
  if (!rec.prompt.trim() || !rec.response.trim()) return;
  out.push(rec);
  counts[rec.source.split(':')[0]] = (counts[rec.source.split(':')[0]] || 0) + 1;
};

// 1. Arena-Hard v0.1: GPT-4-0314 answers joined with the questions on uid.
const questions = new Map(readJsonl('legit/arena-hard-v0.1_question.jsonl').map((q) => [q.uid, q]));
for (const a of readJsonl('teacher/arena-hard-v0.1_gpt-4-0314.jsonl')) {
  const q = questions.get(a.uid);
  if (!q) continue;
  const answer = a.messages.find((m) => m.role === 'assistant');
  add({ prompt: q.prompt, response: answer.content.answer, model: a.model,
        source: `arena-hard:${a.uid}`, category: q.cluster });
}

// 2. Self-Instruct user-oriented instructions: text-davinci-003 predictions.
for (const [i, r] of readJsonl('teacher/self-instruct_user_oriented_text-davinci-003_predictions.jsonl').entries()) {
  const instr = r.instruction.trim();
  const input = (r.input || '').trim();
  add({ prompt: input ? `${instr}\n\n${input}` : instr, response: r.response.trim(),
        model: 'text-davinci-003', source: `self-instruct:${i}`, category: 'user-oriented' });
}

// 3. MT-Bench and Vicuna-bench GPT-4 reference answers (every turn is a prompt).
for (const [bench, qfile, afile] of [
  ['mt-bench', 'legit/mt_bench_question.jsonl', 'teacher/mt_bench_reference_answer_gpt-4.jsonl'],
  ['vicuna-bench', 'legit/vicuna_bench_question.jsonl', 'teacher/vicuna_bench_reference_answer_gpt-4.jsonl'],
]) {
  const qs = new Map(readJsonl(qfile).map((q) => [q.question_id, q]));
  for (const a of readJsonl(afile)) {
    const q = qs.get(a.question_id);
    if (!q) continue;
    a.choices[0].turns.forEach((ans, t) => {
      if (t < q.turns.length)
        add({ prompt: q.turns[t], response: ans, model: a.model_id,
              source: `${bench}:${a.question_id}:turn${t + 1}`, category: q.category });
    });
  }
}

const file = path.join(here, 'teacher.jsonl');
fs.writeFileSync(file, out.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.log(`wrote ${out.length} records to ${path.relative(root, file)}:`, JSON.stringify(counts));
