//go:build !linux || !(amd64 || arm64)

package store

// walVFSParam: elsewhere than on Linux on amd64 or arm64, SQLite's own VFS writes the WAL (walvfs_linux.go).
func walVFSParam() string { return "" }

// walWrites counts the writes that reached a WAL's file through the VFS (tests): none here.
func walWrites() int64 { return 0 }
