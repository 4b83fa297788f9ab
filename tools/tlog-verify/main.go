// tlog-verify checks a C2SP tlog-tiles log with code that is not the log's own: the tlog
// client of filippo.io/torchwood (pinned in go.mod), on the Go project's golang.org/x/mod
// sumdb/note (C2SP signed-note) and sumdb/tlog (RFC 6962 trees read from tiles).
//
// Who checks what:
//   - the checkpoint's signature by the pinned verifier key: x/mod's note.Open; its body
//     (origin, size, root): torchwood.ParseCheckpoint;
//   - the hash tiles: torchwood's TileFetcher fetches them (c2sp.org/tlog-tiles paths) and
//     torchwood.TileHashReaderWithContext reads them through x/mod's tlog.TileHashReader,
//     which checks every tile it reads against the signed root; tlog.TreeHash over it
//     rebuilds that root from the right edge, full and partial tiles;
//   - -inclusion: torchwood's Client.Entry cuts the entry from its entry bundle, proves it
//     with tlog.ProveRecord and checks the proof from its record hash (RFC 6962 §2.1:
//     SHA-256(0x00 || entry)) to the root with tlog.CheckRecord;
//   - -entries: torchwood's Client.Entries reads every entry bundle, authenticates the hash
//     tiles under it and compares each entry's record hash with its leaf hash.
//
// Ours is only the glue: the flags, the bearer token on entry-bundle requests (they carry
// personal data; the checkpoint and hash tiles are public), the counts printed, and naming
// the entry being read when torchwood refuses one. It exits 1 at the first failure.
//
// With -proof FILE it reads nothing from the network: it checks a C2SP tlog-proof (proof.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// bearer adds the token to entry-bundle requests only, so the run also shows the
// checkpoint and the hash tiles are served without one.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.token != "" && strings.Contains(req.URL.Path, "/tile/entries/") {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(req)
}

// counted is torchwood's TileReader, counting the distinct tiles it returned.
type counted struct {
	torchwood.TileReader
	tiles map[tlog.Tile]bool
}

func (c *counted) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	data, err := c.TileReader.ReadTiles(ctx, tiles)
	if err == nil {
		for _, t := range tiles {
			c.tiles[t] = true
		}
	}
	return data, err
}

func (c *counted) counts() (full, partial, bundles int) {
	for t := range c.tiles {
		switch {
		case t.L == -1:
			bundles++
		case t.W == torchwood.TileWidth:
			full++
		default:
			partial++
		}
	}
	return full, partial, bundles
}

// openCheckpoint is the signed note, once its signature by vkey is verified, and its body as
// a checkpoint whose origin is the key's name.
func openCheckpoint(msg []byte, vkey string) (*note.Note, torchwood.Checkpoint, error) {
	var none torchwood.Checkpoint
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, none, fmt.Errorf("verifier key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, none, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return nil, none, err
	}
	if c.Origin != v.Name() {
		return nil, none, fmt.Errorf("checkpoint origin %q is not the key's name %q", c.Origin, v.Name())
	}
	return n, c, nil
}

// allEntries runs Client.Entries until the tree's end: it stops before a trailing partial
// bundle, which the next call from there reads.
func allEntries(ctx context.Context, client *torchwood.Client, tree tlog.Tree) (int64, error) {
	var next int64
	for next < tree.N {
		from := next
		for index := range client.Entries(ctx, tree, next) {
			next = index + 1
		}
		// Entries yields in index order and stops at the first entry it cannot check, so the
		// entry at fault (or the first one its failed tile read left unchecked) is next.
		if err := client.Err(); err != nil {
			return next, fmt.Errorf("entry %d: %w", next, err)
		}
		if next == from {
			return next, fmt.Errorf("entry %d: the client read no entry from there", next)
		}
	}
	return next, nil
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

	ctx := context.Background()
	hc := &http.Client{Transport: bearer{*token, http.DefaultTransport}, Timeout: 30 * time.Second}
	fetcher, err := torchwood.NewTileFetcher(*base, torchwood.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	tr := &counted{TileReader: fetcher, tiles: map[tlog.Tile]bool{}}
	client, err := torchwood.NewClient(tr)
	if err != nil {
		return err
	}
	msg, err := tr.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		return err
	}
	_, checkpoint, err := openCheckpoint(msg, *vkey)
	if err != nil {
		return err
	}
	tree := checkpoint.Tree
	if _, err := tlog.TreeHash(tree.N, torchwood.TileHashReaderWithContext(ctx, tree, tr)); err != nil {
		return fmt.Errorf("tiles: %w", err)
	}
	checked := int64(0)
	if *include != "" {
		for _, s := range strings.Split(*include, ",") {
			index, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("entry %s: not an index", s)
			}
			if _, _, err := client.Entry(ctx, tree, index); err != nil {
				return fmt.Errorf("entry %d: %w", index, err)
			}
			checked++
		}
	}
	if *all {
		n, err := allEntries(ctx, client, tree)
		if err != nil {
			return err
		}
		checked += n
	}
	full, partial, bundles := tr.counts()
	fmt.Printf("OK: origin %s, tree size %d, root %s, hash tiles read %d full and %d partial, entries checked %d, entry bundles read %d\n",
		checkpoint.Origin, tree.N, tree.Hash, full, partial, checked, bundles)
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
