// An independent check of si-ledger's proofs with the Go checksum
// database's own packages (golang.org/x/mod/sumdb/note and sumdb/tlog),
// which share no code with si-ledger: what "any C2SP-compatible verifier"
// means in the tests (tests/tests/proofs.rs runs it).
//
//	go-verifier VKEYS PROOF_DIR [SAVED_CHECKPOINT CONSISTENCY_BODY]
//
// It opens every *.tlog-proof file of PROOF_DIR (c2sp.org/tlog-proof@v1),
// checks its checkpoint's signature with the verifier keys (one a line),
// the record hash of its `extra` leaf at its index, and, given a saved
// checkpoint and a tlog-witness body, that the proofs' checkpoint extends
// the saved one. It prints one line per proof and exits 1 on any failure.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// open verifies a signed checkpoint with the keys and parses its body
// (C2SP tlog-checkpoint: origin, size, base64 root).
func open(msg []byte, keys note.Verifiers) (checkpoint, error) {
	n, err := note.Open(msg, keys)
	if err != nil {
		return checkpoint{}, fmt.Errorf("note: %w", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return checkpoint{}, fmt.Errorf("not a checkpoint")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return checkpoint{}, fmt.Errorf("size: %w", err)
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return checkpoint{}, fmt.Errorf("root: %w", err)
	}
	if n.Sigs[0].Name != lines[0] {
		return checkpoint{}, fmt.Errorf("signed as %s, origin %s", n.Sigs[0].Name, lines[0])
	}
	return checkpoint{lines[0], size, root}, nil
}

func hashes(lines []string) ([]tlog.Hash, error) {
	var out []tlog.Hash
	for _, l := range lines {
		h, err := tlog.ParseHash(l)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func run() error {
	if len(os.Args) != 3 && len(os.Args) != 5 {
		return fmt.Errorf("usage: go-verifier VKEYS PROOF_DIR [SAVED BODY]")
	}
	vk, err := os.ReadFile(os.Args[1])
	if err != nil {
		return err
	}
	var verifiers []note.Verifier
	sc := bufio.NewScanner(bytes.NewReader(vk))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			v, err := note.NewVerifier(line)
			if err != nil {
				return fmt.Errorf("verifier key %q: %w", line, err)
			}
			verifiers = append(verifiers, v)
		}
	}
	keys := note.VerifierList(verifiers...)
	files, err := filepath.Glob(filepath.Join(os.Args[2], "*.tlog-proof"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no proofs in %s", os.Args[2])
	}
	var last checkpoint
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		head, cp, ok := bytes.Cut(text, []byte("\n\n"))
		if !ok {
			return fmt.Errorf("%s: no blank line", f)
		}
		lines := strings.Split(string(head), "\n")
		if lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") || !strings.HasPrefix(lines[2], "index ") {
			return fmt.Errorf("%s: not a tlog-proof with extra and index", f)
		}
		leaf, err := base64.StdEncoding.DecodeString(lines[1][len("extra "):])
		if err != nil {
			return fmt.Errorf("%s: extra: %w", f, err)
		}
		index, err := strconv.ParseInt(lines[2][len("index "):], 10, 64)
		if err != nil {
			return fmt.Errorf("%s: index: %w", f, err)
		}
		path, err := hashes(lines[3:])
		if err != nil {
			return fmt.Errorf("%s: path: %w", f, err)
		}
		c, err := open(cp, keys)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := tlog.CheckRecord(path, c.size, c.root, index, tlog.RecordHash(leaf)); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Printf("%s: leaf %d of %s at size %d: ok\n", filepath.Base(f), index, c.origin, c.size)
		last = c
	}
	if len(os.Args) == 5 {
		saved, err := os.ReadFile(os.Args[3])
		if err != nil {
			return err
		}
		old, err := open(saved, keys)
		if err != nil {
			return fmt.Errorf("saved checkpoint: %w", err)
		}
		body, err := os.ReadFile(os.Args[4])
		if err != nil {
			return err
		}
		head, cp, ok := bytes.Cut(body, []byte("\n\n"))
		if !ok {
			return fmt.Errorf("consistency body: no blank line")
		}
		lines := strings.Split(string(head), "\n")
		if !strings.HasPrefix(lines[0], "old ") || lines[0][len("old "):] != strconv.FormatInt(old.size, 10) {
			return fmt.Errorf("consistency body: %q is not from size %d", lines[0], old.size)
		}
		proof, err := hashes(lines[1:])
		if err != nil {
			return fmt.Errorf("consistency body: %w", err)
		}
		c, err := open(cp, keys)
		if err != nil {
			return fmt.Errorf("consistency body: %w", err)
		}
		if c != last || c.origin != old.origin {
			return fmt.Errorf("the body's checkpoint is not the proofs'")
		}
		if err := tlog.CheckTree(proof, c.size, c.root, old.size, old.root); err != nil {
			return fmt.Errorf("consistency from %d to %d: %w", old.size, c.size, err)
		}
		fmt.Printf("%s at size %d extends the saved checkpoint of size %d: ok\n", c.origin, c.size, old.size)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "NOT verified:", err)
		os.Exit(1)
	}
}
