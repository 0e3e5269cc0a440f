package access

import "io"

// ioLimit reads at most one byte more than MaxFileBytes, so that a longer file is noticed
// without reading all of it.
func ioLimit(r io.Reader) io.Reader { return io.LimitReader(r, MaxFileBytes+1) }
