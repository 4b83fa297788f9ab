// tlog-verify checks a C2SP tlog-tiles log with code that is not the log's own: the Go
// project's golang.org/x/mod/sumdb/note (C2SP signed-note) and golang.org/x/mod/sumdb/tlog
// (RFC 6962 trees read from tiles).
//
// It opens the log's /checkpoint with the pinned verifier key, rebuilds the root from the hash
// tiles (tlog.TileHashReader checks every tile it reads against that root), proves the
// inclusion of the entries asked for, and with -entries hashes every entry of every entry
// bundle (RFC 6962 §2.1: SHA-256(0x00 || entry)) against the leaf hashes of the tiles.
// It exits 1 at the first failure, naming the entry when one is at fault.
//
// With -proof FILE it reads nothing from the network: it checks a C2SP tlog-proof (proof.go).
package main

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

type client struct {
	base    string
	token   string
	full    int
	partial int
	tiles   map[string][]byte
}

func (c *client) get(path string, auth bool) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

// c2spPath turns tlog's sumdb tile path (tile/H/L/N[.p/W], tile/H/data/N) into the C2SP one
// (tile/L/N[.p/W], tile/entries/N): the same N encoding, without the height.
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", t.H))
	if t.L == -1 {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// ReadTiles implements tlog.TileReader over HTTP.
func (c *client) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := c2spPath(t)
		data, ok := c.tiles[path]
		if !ok {
			var err error
			if data, err = c.get(path, false); err != nil {
				return nil, err
			}
			c.tiles[path] = data
			if t.W == 1<<tileHeight {
				c.full++
			} else {
				c.partial++
			}
		}
		out[i] = data
	}
	return out, nil
}

func (c *client) Height() int { return tileHeight }

func (c *client) SaveTiles([]tlog.Tile, [][]byte) {}

// parseCheckpoint reads a C2SP tlog-checkpoint body: origin, size, base64 root, then
// extension lines, which are ignored.
func parseCheckpoint(text string) (string, int64, tlog.Hash, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return "", 0, tlog.Hash{}, errors.New("malformed checkpoint")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return "", 0, tlog.Hash{}, errors.New("malformed tree size")
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return "", 0, tlog.Hash{}, errors.New("malformed root hash")
	}
	var root tlog.Hash
	copy(root[:], raw)
	return lines[0], size, root, nil
}

// bundleEntries splits a C2SP entry bundle: each entry a big-endian uint16 length, then bytes.
func bundleEntries(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("truncated entry length")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, errors.New("truncated entry")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out, nil
}

type verifier struct {
	c    *client
	size int64
	root tlog.Hash
	hr   tlog.HashReader
	// bundles already fetched, by tile index
	bundles map[int64][][]byte
}

func (v *verifier) entry(index int64) ([]byte, error) {
	n := index / (1 << tileHeight)
	entries, ok := v.bundles[n]
	if !ok {
		w := v.size - n*(1<<tileHeight)
		if w > 1<<tileHeight {
			w = 1 << tileHeight
		}
		t := tlog.Tile{H: tileHeight, L: -1, N: n, W: int(w)}
		data, err := v.c.get(c2spPath(t), true)
		if err != nil {
			return nil, err
		}
		entries, err = bundleEntries(data)
		if err != nil {
			return nil, fmt.Errorf("entry bundle %d: %w", n, err)
		}
		if int64(len(entries)) != w {
			return nil, fmt.Errorf("entry bundle %d holds %d entries, not %d", n, len(entries), w)
		}
		v.bundles[n] = entries
	}
	return entries[index%(1<<tileHeight)], nil
}

func (v *verifier) checkEntry(index int64) error {
	data, err := v.entry(index)
	if err != nil {
		return err
	}
	proof, err := tlog.ProveRecord(v.size, index, v.hr)
	if err != nil {
		return fmt.Errorf("entry %d: no inclusion proof from the tiles: %w", index, err)
	}
	if err := tlog.CheckRecord(proof, v.size, v.root, index, tlog.RecordHash(data)); err != nil {
		return fmt.Errorf("entry %d: its bytes are not the leaf the signed tree holds: %w", index, err)
	}
	return nil
}

func run() error {
	base := flag.String("url", "", "the log's base URL (where /checkpoint is)")
	vkey := flag.String("vkey", "", "the log's verifier key, <name>+<hash>+<key>")
	token := flag.String("token", os.Getenv("TLOG_TOKEN"), "bearer token for entry bundles")
	include := flag.String("inclusion", "", "comma-separated entry indexes to prove")
	all := flag.Bool("entries", false, "check every entry of every entry bundle")
	proofFile := flag.String("proof", "", "check this tlog-proof file offline instead")
	recordFile := flag.String("record", "", "with -proof: the record, if not the proof's extra data")
	var witnesses stringList
	flag.Var(&witnesses, "witness", "with -proof: a witness key (<name>+<hash>+<key>) that must have cosigned; repeatable")
	flag.Parse()
	if *proofFile != "" {
		data, err := os.ReadFile(*proofFile)
		if err != nil {
			return err
		}
		var record []byte
		if *recordFile != "" {
			if record, err = os.ReadFile(*recordFile); err != nil {
				return err
			}
		}
		return checkProof(data, *vkey, record, witnesses)
	}
	c := &client{base: strings.TrimSuffix(*base, "/"), token: *token, tiles: map[string][]byte{}}

	noteVerifier, err := note.NewVerifier(*vkey)
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	msg, err := c.get("checkpoint", false)
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(noteVerifier))
	if err != nil {
		return fmt.Errorf("checkpoint signature: %w", err)
	}
	origin, size, root, err := parseCheckpoint(n.Text)
	if err != nil {
		return err
	}
	if origin != noteVerifier.Name() {
		return fmt.Errorf("checkpoint origin %q is not the key's name %q", origin, noteVerifier.Name())
	}
	v := &verifier{c: c, size: size, root: root, bundles: map[int64][][]byte{}}
	v.hr = tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, c)
	got, err := tlog.TreeHash(size, v.hr)
	if err != nil {
		return fmt.Errorf("tiles: %w", err)
	}
	if got != root {
		return fmt.Errorf("tiles: root %s, the checkpoint signed %s", got, root)
	}
	checked := 0
	if *include != "" {
		for _, s := range strings.Split(*include, ",") {
			index, err := strconv.ParseInt(s, 10, 64)
			if err != nil || index < 0 || index >= size {
				return fmt.Errorf("entry %s: not in a tree of %d", s, size)
			}
			if err := v.checkEntry(index); err != nil {
				return err
			}
			checked++
		}
	}
	if *all {
		for index := int64(0); index < size; index++ {
			data, err := v.entry(index)
			if err != nil {
				return err
			}
			hashes, err := v.hr.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
			if err != nil {
				return fmt.Errorf("entry %d: %w", index, err)
			}
			if hashes[0] != tlog.RecordHash(data) {
				return fmt.Errorf("entry %d: its bytes do not hash to the leaf hash the signed tree holds", index)
			}
			checked++
		}
	}
	fmt.Printf("OK: origin %s, tree size %d, root %s, hash tiles read %d full and %d partial, entries checked %d, entry bundles read %d\n",
		origin, size, root, c.full, c.partial, checked, len(v.bundles))
	return nil
}

type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
}
