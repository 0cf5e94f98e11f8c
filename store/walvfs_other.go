//go:build !linux || !(amd64 || arm64)

package store

// walVFSParam: elsewhere than on Linux on amd64 or arm64, SQLite's own VFS writes the WAL
// (walvfs_linux.go).
func walVFSParam() string { return "" }
