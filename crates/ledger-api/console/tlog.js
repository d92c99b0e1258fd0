// Checking a proof directory in the browser (issue 27,
// docs/tamper-evidence.md §4a): C2SP signed notes (Ed25519 by WebCrypto),
// RFC 9162 inclusion proofs (SHA-256 by WebCrypto) and the account chain
// the leaves form. No library: WebCrypto does the cryptography, and the
// rest is the few steps RFC 9162 §2.1.3.2 and C2SP signed-note give,
// which no maintained browser package offers without a bundler.

const enc = new TextEncoder();

export function fromBase64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// A verifier key `<name>+<hex id>+<base64(0x01 ‖ key)>`, checked: its id
// is the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key).
export async function parseVerifierKey(text) {
  const [name, hex, b64] = text.trim().split("+");
  if (!name || !hex || !b64) throw new Error(`not a verifier key: ${text}`);
  const raw = fromBase64(b64);
  if (raw.length !== 33 || raw[0] !== 1) throw new Error(`not an Ed25519 verifier key: ${name}`);
  const id = (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a), raw))).slice(0, 4);
  const hexId = [...id].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (hexId !== hex.toLowerCase()) throw new Error(`the key id of ${name} is not ${hex}`);
  const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, id, key };
}

// Opens a signed checkpoint with one of `vkeys` (parsed): its origin, size
// and root, once a key of the origin's name signed its text.
export async function openCheckpoint(note, vkeys) {
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) throw new Error("not a signed note");
  const text = note.slice(0, cut + 1);
  const [origin, size, root, ...rest] = text.split("\n");
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(size) || rest.some((l, i) => l === "" && i < rest.length - 1)) {
    throw new Error("not a checkpoint");
  }
  const candidates = vkeys.filter((k) => k.name === origin);
  if (!candidates.length) throw new Error(`no verifier key is named ${origin}`);
  for (const line of note.slice(cut + 2).split("\n").filter(Boolean)) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== origin) continue;
    const sig = fromBase64(m[2]);
    for (const k of candidates) {
      if (sig.length === 68 && equal(sig.slice(0, 4), k.id)) {
        const ok = await crypto.subtle.verify("Ed25519", k.key, sig.slice(4), enc.encode(text));
        if (!ok) throw new Error(`the signature of ${origin} does not verify`);
        return { origin, size: BigInt(size), root: fromBase64(root), text: note };
      }
    }
  }
  throw new Error(`the checkpoint of ${origin} is not signed by its key`);
}

// RFC 9162 §2.1.3.2: leaf `hash` at `index` of the tree of `size` leaves
// with `root`, by `path` (the leaf's sibling first).
export async function verifyInclusion(index, size, hash, path, root) {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1n;
  let r = hash;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

export function parseProof(text) {
  const cut = text.indexOf("\n\n");
  if (cut < 0) throw new Error("no blank line before the checkpoint");
  const lines = text.slice(0, cut).split("\n");
  if (lines[0] !== "c2sp.org/tlog-proof@v1") throw new Error("not a c2sp.org/tlog-proof@v1 file");
  let extra = null;
  let index = null;
  const path = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith("extra ")) extra = fromBase64(line.slice(6));
    else if (line.startsWith("index ")) index = BigInt(line.slice(6));
    else path.push(fromBase64(line));
  }
  if (index === null || !extra) throw new Error("no index or no leaf");
  return { extra, index, path, checkpoint: text.slice(cut + 2) };
}

// An account update's leaf: "A" ‖ str(IIN) ‖ str(event id) ‖ PRE, where
// PRE = prev(32) ‖ partition(4) ‖ offset(8) ‖ time(8) ‖ seq(8) ‖ content
// hash(32) ‖ …; the account link after it is SHA-256(PRE).
async function parseLeaf(leaf) {
  const view = new DataView(leaf.buffer, leaf.byteOffset, leaf.byteLength);
  if (leaf[0] !== 0x41) throw new Error("not an account update's leaf");
  let at = 1;
  const str = () => {
    const n = view.getUint32(at);
    const s = new TextDecoder().decode(leaf.slice(at + 4, at + 4 + n));
    at += 4 + n;
    return s;
  };
  const iin = str();
  const eventId = str();
  const pre = leaf.slice(at);
  return {
    iin,
    eventId,
    prev: pre.slice(0, 32),
    offset: view.getBigUint64(at + 36),
    seq: view.getBigUint64(at + 52),
    contentHash: pre.slice(60, 92),
    link: await sha256(pre),
  };
}

// Checks every proof of a directory (`files`: name → text) as
// `si-ledger verify-proof` does, but for the statement's figures (the
// server's fold, not re-run here): the checkpoint's signature, each
// inclusion, the unbroken account chain, each event's content hash.
// Returns what was proven, by offset; throws naming the file otherwise.
export async function verifyDirectory(files, vkeyTexts) {
  const vkeys = [];
  for (const k of vkeyTexts) vkeys.push(await parseVerifierKey(k));
  const statement = JSON.parse(files["statement.json"]);
  let checkpoint = null;
  let prev = new Uint8Array(32);
  const proven = [];
  for (const [i, e] of statement.entries.entries()) {
    const at = (why) => new Error(`${e.proof}: ${why}`);
    const text = files[e.proof];
    if (text === undefined) throw at("missing");
    const p = parseProof(text);
    const cp = await openCheckpoint(p.checkpoint, vkeys).catch((err) => { throw at(err.message); });
    if (checkpoint && (cp.size !== checkpoint.size || cp.origin !== checkpoint.origin)) throw at("another checkpoint");
    checkpoint ??= cp;
    if (!(await verifyInclusion(p.index, cp.size, await leafHash(p.extra), p.path, cp.root))) {
      throw at(`leaf ${p.index} is not in the tree of ${cp.size}`);
    }
    const leaf = await parseLeaf(p.extra);
    if (leaf.iin !== statement.iin) throw at("the leaf is of another account");
    if (leaf.seq !== BigInt(i) || !equal(leaf.prev, prev)) throw at("the account chain is broken here");
    if (!equal(await sha256(fromBase64(e.event)), leaf.contentHash)) throw at("the event is not the one the leaf hashes");
    prev = leaf.link;
    proven.push({ offset: leaf.offset, index: p.index });
  }
  if (!checkpoint) throw new Error("no entries");
  return { origin: checkpoint.origin, size: checkpoint.size, proven };
}

// A POSIX ustar archive of `files` (name → text) under `dir/`: what
// `tar -xf` unpacks into the directory `si-ledger verify-proof` reads.
export function tar(dir, files) {
  const blocks = [];
  const octal = (n, width) => n.toString(8).padStart(width - 1, "0") + "\0";
  const mtime = Math.floor(Date.now() / 1000);
  for (const [name, text] of Object.entries(files)) {
    const body = enc.encode(text);
    const header = new Uint8Array(512);
    const put = (s, at) => header.set(enc.encode(s), at);
    put(`${dir}/${name}`.slice(0, 99), 0);
    put(octal(0o644, 8), 100);
    put(octal(0, 8), 108);
    put(octal(0, 8), 116);
    put(octal(body.length, 12), 124);
    put(octal(mtime, 12), 136);
    put("        ", 148);
    put("0", 156);
    put("ustar\u000000", 257);
    const sum = header.reduce((a, b) => a + b, 0);
    put(octal(sum, 7) + " ", 148);
    blocks.push(header, body, new Uint8Array((512 - (body.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return new Blob(blocks, { type: "application/x-tar" });
}
