package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// A backup archive is a gzip-compressed tar file that holds, in this order:
//
//	manifest.json   what the archive holds (backupManifest)
//	gatehouse.db    a consistent copy of the SQLite database (VACUUM INTO)
//	keys.json       the signing key file
//	factor.key      the key that seals second-factor secrets, when the data directory has one
//	                (archives written before second factors lack it)
//
// Every entry has mode 0600; nothing else is accepted on restore.
const (
	archiveFormat    = "gatehouse-backup"
	archiveVersion   = 1
	manifestName     = "manifest.json"
	archiveDBName    = "gatehouse.db"
	archiveKeysName  = "keys.json"
	archiveFactorKey = "factor.key"
	maxManifestSize  = 1 << 20
)

// backupManifest describes a backup archive.
type backupManifest struct {
	Format        string         `json:"format"`
	Version       int            `json:"version"`
	CreatedAt     time.Time      `json:"created_at"`
	SchemaVersion int            `json:"schema_version"`
	Rows          map[string]int `json:"rows"`
	KIDs          []string       `json:"kids"`
	Files         []archiveFile  `json:"files"`
}

// archiveFile is one file of the archive, with its size and SHA-256.
type archiveFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// describeFile returns the size and digest of the file at path under name.
func describeFile(name, path string) (archiveFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return archiveFile{}, err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return archiveFile{}, err
	}
	return archiveFile{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeArchive writes the manifest and the files of dir that it lists to out, which must not
// exist: into a 0600 temporary file beside it, synced, then linked into place, so that out
// is either absent or complete.
func writeArchive(out string, m *backupManifest, dir string) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".gatehouse-backup-*.tmp")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: %w", err)
	}
	err = writeTar(tmp, m, dir)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: writing %s: %w", out, err)
	}
	if err := os.Link(tmp.Name(), out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func writeTar(w io.Writer, m *backupManifest, dir string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := tarEntry(tw, manifestName, int64(len(manifest)), m.CreatedAt, bytes.NewReader(manifest)); err != nil {
		return err
	}
	for _, f := range m.Files {
		fh, err := os.Open(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		err = tarEntry(tw, f.Name, f.Size, m.CreatedAt, fh)
		fh.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func tarEntry(tw *tar.Writer, name string, size int64, mtime time.Time, r io.Reader) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: mtime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s changed while it was archived", name)
	}
	return err
}

// errBadArchive is the error of an archive that is not a complete gatehouse backup.
var errBadArchive = errors.New("not a complete gatehouse backup")

// readArchive reads the archive r, writing each file it lists into dir under a temporary
// name (mode 0600), and checks every size and digest against the manifest. It returns the
// manifest and the temporary path of each file by name; the caller moves or removes them.
func readArchive(r io.Reader, dir string) (*backupManifest, map[string]string, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errBadArchive, err)
	}
	tr := tar.NewReader(gz)
	m, err := readManifest(tr)
	if err != nil {
		return nil, nil, err
	}
	written := map[string]string{}
	for _, want := range m.Files {
		path, err := extractEntry(tr, want, dir)
		if path != "" {
			written[want.Name] = path
		}
		if err != nil {
			return m, written, err
		}
	}
	if _, err := tr.Next(); err != io.EOF {
		return m, written, fmt.Errorf("%w: unexpected content after the files the manifest lists", errBadArchive)
	}
	return m, written, nil
}

func readManifest(tr *tar.Reader) (*backupManifest, error) {
	hdr, err := tr.Next()
	if err != nil || hdr.Name != manifestName || hdr.Size > maxManifestSize {
		return nil, fmt.Errorf("%w: no manifest first (%v)", errBadArchive, err)
	}
	var m backupManifest
	dec := json.NewDecoder(io.LimitReader(tr, maxManifestSize))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", errBadArchive, err)
	}
	if m.Format != archiveFormat || m.Version != archiveVersion {
		return nil, fmt.Errorf("%w: format %q version %d (this gatehouse reads %q version %d)", errBadArchive, m.Format, m.Version, archiveFormat, archiveVersion)
	}
	names := map[string]bool{}
	for _, f := range m.Files {
		names[f.Name] = true
	}
	n := 2
	if names[archiveFactorKey] {
		n = 3
	}
	if len(m.Files) != n || !names[archiveDBName] || !names[archiveKeysName] {
		return nil, fmt.Errorf("%w: the manifest must list %s and %s (and %s, when there is one)", errBadArchive, archiveDBName, archiveKeysName, archiveFactorKey)
	}
	return &m, nil
}

// extractEntry reads the next entry, which must be want, into a temporary file of dir.
func extractEntry(tr *tar.Reader, want archiveFile, dir string) (string, error) {
	hdr, err := tr.Next()
	if err != nil {
		return "", fmt.Errorf("%w: %s is missing (%v)", errBadArchive, want.Name, err)
	}
	if hdr.Name != want.Name || hdr.Typeflag != tar.TypeReg || hdr.Size != want.Size {
		return "", fmt.Errorf("%w: found %q (%d bytes) where the manifest lists %s (%d bytes)", errBadArchive, hdr.Name, hdr.Size, want.Name, want.Size)
	}
	fh, err := os.OpenFile(filepath.Join(dir, ".restore-"+want.Name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(fh, h), tr)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
		err = fmt.Errorf("%w: %s does not match its digest in the manifest", errBadArchive, want.Name)
	}
	return fh.Name(), err
}
