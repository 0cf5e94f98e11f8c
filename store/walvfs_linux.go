//go:build amd64 || arm64

package store

import (
	"encoding/binary"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite writes each frame of its WAL with two system calls (the frame's 24-byte header, then
// the page), so a commit of 60 pages made 120 pwrite calls; on a virtual machine each costs
// microseconds, and they were 8 % of a W1 turn's CPU. The VFS "tandem" is SQLite's own (unix),
// except that a WAL file gathers the frames of a commit in memory and writes them with one
// pwrite when its commit frame is complete. The commit's outcome is that write's: SQLite
// learns of a failure from the write of the commit frame, as before, and its commit is
// visible to other connections only after (the WAL index's header is updated once the frames'
// writes returned). Anything else done to the WAL file (a read, a sync, its size, a truncation,
// a write elsewhere, closing it) writes what is gathered first, so that every other use of the
// file sees what SQLite wrote. A process killed before the write loses only a commit not yet
// acknowledged, as when it is killed during SQLite's own writes.

const (
	walVFSName   = "tandem"
	walFrameHead = 24      // bytes of a frame's header; its bytes 4–8 are non-zero in a commit frame
	walGatherMax = 4 << 20 // bytes gathered at most before they are written
	// walWriteMax is the most SQLite's unix VFS writes at once: it keeps the low 17 bits of a
	// write's length (seekAndWriteFd), and a longer write would come out short.
	walWriteMax = 0x1ffff
)

// walFile is a WAL file open through the VFS: what it gathered (n bytes in buf, C memory of
// size bytes), from offset at.
type walFile struct {
	orig       *sqlite3.Tsqlite3_io_methods
	buf        uintptr
	n, size    int
	at         int64
	commitNext bool // the last write was a commit frame's header: its page completes the commit
}

// Everything SQLite reads through an address (the VFS, the WAL files' methods, what is
// written) is in C memory, modernc's allocator: Go's pointer checks (-race) refuse arithmetic
// on an address of Go memory that SQLite's transpiled code was given as a number.
var walVFS struct {
	once     sync.Once
	ok       bool
	origOpen uintptr
	mu       sync.Mutex
	files    map[uintptr]*walFile // by the sqlite3_file's address
	methods  map[uintptr]*sqlite3.Tsqlite3_io_methods
}

// walVFSParam returns the DSN parameter that opens a database through the VFS ("" when it
// could not be registered: SQLite's default VFS then).
func walVFSParam() string {
	walVFS.once.Do(registerWALVFS)
	if !walVFS.ok {
		return ""
	}
	return "vfs=" + walVFSName + "&"
}

func registerWALVFS() {
	tls := libc.NewTLS()
	defer tls.Close()
	def := sqlite3.Xsqlite3_vfs_find(tls, 0)
	if def == 0 {
		return
	}
	name, err := libc.CString(walVFSName)
	if err != nil {
		return
	}
	vfs := libc.Xcalloc(tls, 1, libc.Tsize_t(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
	if vfs == 0 {
		return
	}
	v := (*sqlite3.Tsqlite3_vfs)(at(vfs))
	*v = *(*sqlite3.Tsqlite3_vfs)(at(def))
	walVFS.origOpen = v.FxOpen
	v.FzName = name
	v.FpNext = 0
	v.FxOpen = cfunc(walOpen)
	walVFS.files = map[uintptr]*walFile{}
	walVFS.methods = map[uintptr]*sqlite3.Tsqlite3_io_methods{}
	if sqlite3.Xsqlite3_vfs_register(tls, vfs, 0) != sqlite3.SQLITE_OK {
		return
	}
	walVFS.ok = true
}

// at is an address in C memory as a pointer.
func at(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// cfunc is a Go function as SQLite's transpiled code calls a C function pointer.
func cfunc[T any](f T) uintptr { return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f})) }

// The original methods, called through their pointers as the transpiled code does.
func callOpen(fp uintptr, tls *libc.TLS, vfs, name, file uintptr, flags int32, outFlags uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fp})))(tls, vfs, name, file, flags, outFlags)
}

func callFile(fp uintptr, tls *libc.TLS, file uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fp})))(tls, file)
}

func callRW(fp uintptr, tls *libc.TLS, file, buf uintptr, n int32, off int64) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{fp})))(tls, file, buf, n, off)
}

func callInt64(fp uintptr, tls *libc.TLS, file uintptr, n int64) int32 {
	return (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{fp})))(tls, file, n)
}

func callInt(fp uintptr, tls *libc.TLS, file uintptr, n int32) int32 {
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{fp})))(tls, file, n)
}

func callPtr(fp uintptr, tls *libc.TLS, file, p uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fp})))(tls, file, p)
}

func callFileControl(fp uintptr, tls *libc.TLS, file uintptr, op int32, arg uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fp})))(tls, file, op, arg)
}

// walOpen opens a file with SQLite's own xOpen; a WAL file gets the gathering methods.
func walOpen(tls *libc.TLS, vfs, name, file uintptr, flags int32, outFlags uintptr) int32 {
	rc := callOpen(walVFS.origOpen, tls, vfs, name, file, flags, outFlags)
	if rc != sqlite3.SQLITE_OK || flags&sqlite3.SQLITE_OPEN_WAL == 0 {
		return rc
	}
	f := (*sqlite3.Tsqlite3_file)(at(file))
	if f.FpMethods == 0 {
		return rc
	}
	walVFS.mu.Lock()
	defer walVFS.mu.Unlock()
	m := walVFS.methods[f.FpMethods]
	if m == nil {
		p := libc.Xcalloc(tls, 1, libc.Tsize_t(unsafe.Sizeof(sqlite3.Tsqlite3_io_methods{})))
		if p == 0 {
			return rc // SQLite's own methods, then
		}
		m = (*sqlite3.Tsqlite3_io_methods)(at(p))
		*m = *(*sqlite3.Tsqlite3_io_methods)(at(f.FpMethods))
		m.FxClose = cfunc(walClose)
		m.FxRead = cfunc(walRead)
		m.FxWrite = cfunc(walWrite)
		m.FxTruncate = cfunc(walTruncate)
		m.FxSync = cfunc(walSync)
		m.FxFileSize = cfunc(walFileSize)
		m.FxFileControl = cfunc(walFileControl)
		walVFS.methods[f.FpMethods] = m
	}
	walVFS.files[file] = &walFile{orig: (*sqlite3.Tsqlite3_io_methods)(at(f.FpMethods))}
	f.FpMethods = uintptr(unsafe.Pointer(m))
	return rc
}

func walFileOf(file uintptr) *walFile {
	walVFS.mu.Lock()
	defer walVFS.mu.Unlock()
	return walVFS.files[file]
}

// flush writes what the file gathered: one write, or one for each walWriteMax bytes.
func (w *walFile) flush(tls *libc.TLS, file uintptr) int32 {
	rc := int32(sqlite3.SQLITE_OK)
	for done := 0; done < w.n && rc == sqlite3.SQLITE_OK; {
		n := min(w.n-done, walWriteMax)
		rc = callRW(w.orig.FxWrite, tls, file, w.buf+uintptr(done), int32(n), w.at+int64(done))
		done += n
	}
	w.n = 0
	w.commitNext = false
	return rc
}

func walWrite(tls *libc.TLS, file, p uintptr, n int32, off int64) int32 {
	w := walFileOf(file)
	if w.n > 0 && off != w.at+int64(w.n) {
		if rc := w.flush(tls, file); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if w.n+int(n) > w.size {
		size := max(2*w.size, w.n+int(n), 64<<10)
		var nb uintptr
		if int(n) <= walWriteMax {
			nb = libc.Xrealloc(tls, w.buf, libc.Tsize_t(size))
		}
		if nb == 0 {
			// Too large to go in one write, or no memory to gather into: what is gathered,
			// then this, written as they come.
			if rc := w.flush(tls, file); rc != sqlite3.SQLITE_OK {
				return rc
			}
			return callRW(w.orig.FxWrite, tls, file, p, n, off)
		}
		w.buf, w.size = nb, size
	}
	if w.n == 0 {
		w.at = off
	}
	data := unsafe.Slice((*byte)(at(p)), n)
	copy(unsafe.Slice((*byte)(at(w.buf+uintptr(w.n))), n), data)
	w.n += int(n)
	switch {
	case n == walFrameHead && binary.BigEndian.Uint32(data[4:8]) != 0:
		w.commitNext = true
	case w.commitNext || w.n >= walGatherMax:
		return w.flush(tls, file)
	}
	return sqlite3.SQLITE_OK
}

func walRead(tls *libc.TLS, file, p uintptr, n int32, off int64) int32 {
	w := walFileOf(file)
	if rc := w.flush(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callRW(w.orig.FxRead, tls, file, p, n, off)
}

func walTruncate(tls *libc.TLS, file uintptr, size int64) int32 {
	w := walFileOf(file)
	if rc := w.flush(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callInt64(w.orig.FxTruncate, tls, file, size)
}

func walSync(tls *libc.TLS, file uintptr, flags int32) int32 {
	w := walFileOf(file)
	if rc := w.flush(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callInt(w.orig.FxSync, tls, file, flags)
}

func walFileSize(tls *libc.TLS, file, size uintptr) int32 {
	w := walFileOf(file)
	if rc := w.flush(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callPtr(w.orig.FxFileSize, tls, file, size)
}

func walFileControl(tls *libc.TLS, file uintptr, op int32, arg uintptr) int32 {
	w := walFileOf(file)
	if rc := w.flush(tls, file); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFileControl(w.orig.FxFileControl, tls, file, op, arg)
}

func walClose(tls *libc.TLS, file uintptr) int32 {
	walVFS.mu.Lock()
	w := walVFS.files[file]
	delete(walVFS.files, file)
	walVFS.mu.Unlock()
	rc := w.flush(tls, file)
	// The file goes back to its own methods to be closed.
	(*sqlite3.Tsqlite3_file)(at(file)).FpMethods = uintptr(unsafe.Pointer(w.orig))
	if crc := callFile(w.orig.FxClose, tls, file); rc == sqlite3.SQLITE_OK {
		rc = crc
	}
	if w.buf != 0 {
		libc.Xfree(tls, w.buf)
	}
	return rc
}
