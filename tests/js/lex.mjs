// Prints what es-module-lexer finds in each file named on stdin (one path a line), as one
// JSON object a line: {"file", "imports": [{"n", "s", "e", "dynamic"}], "meta": [offset]} or
// {"file", "error"}.
// Offsets are converted from UTF-16 code units to UTF-8 byte offsets so that they compare
// with hotserve's scanner. `s`/`e` always delimit the specifier between its quotes; `n` is
// null for a dynamic import whose argument is not a plain string literal.
// `meta` lists the byte offsets of each `import.meta` (d === -2).
import { init, parse } from 'es-module-lexer';
import { readFileSync } from 'node:fs';

await init;

const input = readFileSync(0, 'utf8').split('\n').filter(Boolean);
const out = [];
for (const file of input) {
  const source = readFileSync(file, 'utf8');
  let imports;
  try {
    // Browsers drop a leading byte-order mark before parsing; es-module-lexer does not, and
    // would miss an import right after it. A space keeps every UTF-16 index the same.
    [imports] = parse(source.replace(/^\uFEFF/, ' '));
  } catch (err) {
    out.push(JSON.stringify({ file, error: String(err.message ?? err) }));
    continue;
  }
  const byteOffset = utf16ToUtf8(source);
  const list = [];
  const meta = [];
  for (const imp of imports) {
    if (imp.d === -2) {
      meta.push(byteOffset(imp.s));
      continue;
    }
    const dynamic = imp.d > -1;
    let { s, e } = imp;
    // For dynamic imports es-module-lexer's range includes the quotes.
    if (dynamic && imp.n !== undefined) { s += 1; e -= 1; }
    list.push({ n: imp.n ?? null, s: byteOffset(s), e: byteOffset(e), dynamic });
  }
  out.push(JSON.stringify({ file, imports: list, meta }));
}
process.stdout.write(out.join('\n') + '\n');

// Returns a function mapping a UTF-16 index of `source` to its UTF-8 byte offset.
function utf16ToUtf8(source) {
  let ascii = true;
  for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) > 0x7f) { ascii = false; break; }
  if (ascii) return (i) => i;
  const table = new Uint32Array(source.length + 1);
  let bytes = 0;
  for (let i = 0; i < source.length; i++) {
    table[i] = bytes;
    const c = source.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00) { bytes += 4; table[++i] = bytes; }
    else bytes += 3;
  }
  table[source.length] = bytes;
  return (i) => table[i];
}
