package main

// The offline mode: a C2SP tlog-proof (c2sp.org/tlog-proof@v1) checked with no network.
// x/mod's note.Open checks the checkpoint's signature by the pinned log key and
// torchwood.ParseCheckpoint reads its body (openCheckpoint, main.go); x/mod's
// tlog.CheckRecord checks the audit path from the record's hash (RFC 6962 §2.1:
// SHA-256(0x00 || record)) to the signed root. Ours are the tlog-proof parsing and the
// check that each -witness key cosigned that checkpoint (c2sp.org/tlog-cosignature, with
// crypto/ed25519): torchwood v0.6.1 verifies cosignatures only for a key it signs with, and
// x/mod's note knows no cosignature/v1 keys.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const proofHeader = "c2sp.org/tlog-proof@v1"

var indexLine = regexp.MustCompile(`^index (0|[1-9][0-9]*)$`)

type tlogProof struct {
	extra      []byte
	index      int64
	proof      tlog.RecordProof
	checkpoint []byte
}

func parseProof(data []byte) (*tlogProof, error) {
	head, checkpoint, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok || len(checkpoint) == 0 {
		return nil, errors.New("proof: no empty line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != proofHeader {
		return nil, fmt.Errorf("proof: the first line is not %s", proofHeader)
	}
	lines = lines[1:]
	p := &tlogProof{checkpoint: checkpoint}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		extra, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			return nil, errors.New("proof: extra is not base64")
		}
		p.extra, lines = extra, lines[1:]
	}
	if len(lines) == 0 || !indexLine.MatchString(lines[0]) {
		return nil, errors.New("proof: no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil {
		return nil, errors.New("proof: index out of range")
	}
	p.index = index
	for _, line := range lines[1:] {
		raw, err := base64.StdEncoding.Strict().DecodeString(line)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, errors.New("proof: an inclusion proof line is not a base64 SHA-256 hash")
		}
		var h tlog.Hash
		copy(h[:], raw)
		p.proof = append(p.proof, h)
	}
	return p, nil
}

type witnessKey struct {
	name string
	hash []byte
	key  ed25519.PublicKey
}

// parseWitnessKey reads a cosignature/v1 verifier key, <name>+<hash>+<base64(0x04 || key)>.
func parseWitnessKey(vkey string) (*witnessKey, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("witness key: not <name>+<hash>+<key>")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x04 {
		return nil, errors.New("witness key: not a cosignature/v1 key")
	}
	sum := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if hex.EncodeToString(sum[:4]) != parts[1] {
		return nil, errors.New("witness key: its hash does not match")
	}
	return &witnessKey{parts[0], sum[:4], ed25519.PublicKey(raw[1:])}, nil
}

// cosigned says whether one of the note's signatures is w's cosignature/v1 of its text:
// key hash[4] || timestamp[8] || Ed25519 over "cosignature/v1\ntime <t>\n" + the body.
func (w *witnessKey) cosigned(n *note.Note) bool {
	for _, sig := range n.UnverifiedSigs {
		raw, err := base64.StdEncoding.DecodeString(sig.Base64)
		if sig.Name != w.name || err != nil || len(raw) != 4+8+ed25519.SignatureSize ||
			!bytes.Equal(raw[:4], w.hash) {
			continue
		}
		t := binary.BigEndian.Uint64(raw[4:12])
		msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, n.Text)
		if ed25519.Verify(w.key, []byte(msg), raw[12:]) {
			return true
		}
	}
	return false
}

func checkProof(data []byte, vkey string, record []byte, witnesses []string) error {
	p, err := parseProof(data)
	if err != nil {
		return err
	}
	n, checkpoint, err := openCheckpoint(p.checkpoint, vkey)
	if err != nil {
		return err
	}
	origin, size, root := checkpoint.Origin, checkpoint.N, checkpoint.Hash
	switch {
	case record == nil && p.extra == nil:
		return errors.New("no record: the proof has no extra data and -record was not given")
	case record == nil:
		record = p.extra
	case p.extra != nil && !bytes.Equal(record, p.extra):
		return errors.New("the -record file is not the record in the proof's extra data")
	}
	if p.index >= size {
		return fmt.Errorf("entry %d: not in a tree of %d", p.index, size)
	}
	if err := tlog.CheckRecord(p.proof, size, root, p.index, tlog.RecordHash(record)); err != nil {
		return fmt.Errorf("entry %d: the record is not the leaf the signed tree holds: %w", p.index, err)
	}
	var names []string
	for _, vkey := range witnesses {
		w, err := parseWitnessKey(vkey)
		if err != nil {
			return err
		}
		if !w.cosigned(n) {
			return fmt.Errorf("checkpoint: no valid cosignature by witness %s", w.name)
		}
		names = append(names, w.name)
	}
	fmt.Printf("OK: entry %d of origin %s, tree size %d, root %s, record %d bytes, cosigned by %d witness(es) %s\n",
		p.index, origin, size, root, len(record), len(names), strings.Join(names, ","))
	return nil
}
