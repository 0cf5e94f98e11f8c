//go:build !linux

package store

// walVFSParam: elsewhere than on Linux, SQLite's own VFS writes the WAL (walvfs_linux.go).
func walVFSParam() string { return "" }

// walWrites counts the writes that reached a WAL's file through the VFS (tests): none here.
func walWrites() int64 { return 0 }
