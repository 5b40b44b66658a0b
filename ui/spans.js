// Evidence spans: from the core's UTF-8 byte offsets to JS string indices, then to flat segments.
//
// Design: the core reports evidence as UTF-8 byte ranges into `analysis.text`; JS strings index UTF-16 code
// units, so every non-ASCII character (é, emoji) shifts the two apart. We walk the string once by code point and
// record, for each byte offset, the UTF-16 index where that character starts. Ranges from several flags may
// overlap, so instead of nesting <mark>s we cut the text at every range boundary into flat segments; each segment
// carries the set of range ids covering it. Pure functions, no DOM: testable with node.

const encoder = new TextEncoder();

/** Returns toIndex(byteOffset) → UTF-16 index, snapping an offset inside a character to that character's start. */
export function byteIndexer(text) {
  const total = encoder.encode(text).length;
  const map = new Uint32Array(total + 1);
  let byte = 0;
  let index = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    // Lone surrogates encode as U+FFFD (3 bytes), the same width as the formula gives for 0xD800..0xDFFF.
    const width = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < width; k++) map[byte + k] = index;
    byte += width;
    index += ch.length;
  }
  map[total] = index;
  return (offset) => map[Math.max(0, Math.min(total, offset | 0))];
}

/**
 * Locates evidence in `text`. Each item: {id, start, end, snippet} with byte offsets. Returns
 * [{id, start, end, n}] in UTF-16 indices, n = the item's position in the input. When the bytes do not hold the
 * snippet (e.g. history keeps a redacted text, so offsets into the original no longer fit) we look for the
 * snippet itself, nearest the expected place; evidence that cannot be found is left out rather than misplaced.
 */
export function locate(text, items) {
  const toIndex = byteIndexer(text);
  const out = [];
  items.forEach((item, n) => {
    let start = toIndex(item.start);
    let end = toIndex(item.end);
    const snippet = typeof item.snippet === 'string' ? item.snippet : '';
    if (snippet && text.slice(start, end) !== snippet) {
      const found = nearest(text, snippet, start);
      if (found < 0) return;
      start = found;
      end = found + snippet.length;
    }
    if (end > start) out.push({ id: item.id, start, end, n });
  });
  return out;
}

function nearest(text, needle, around) {
  let best = -1;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    if (best < 0 || Math.abs(at - around) < Math.abs(best - around)) best = at;
  }
  return best;
}

/**
 * Cuts `text` at every range boundary. Returns [{start, end, ids: string[], starts: ranges starting here}]
 * covering the whole text in order; ids is empty for plain text.
 */
export function segment(text, ranges) {
  const cuts = new Set([0, text.length]);
  for (const r of ranges) {
    cuts.add(r.start);
    cuts.add(r.end);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const segments = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i];
    const end = points[i + 1];
    const covering = ranges.filter((r) => r.start <= start && r.end >= end);
    segments.push({
      start,
      end,
      ids: [...new Set(covering.map((r) => r.id))],
      starts: ranges.filter((r) => r.start === start),
    });
  }
  return segments;
}
