// Package chdb runs ClickHouse in-process through libchdb, loaded with dlopen at
// run time so that a gpumeter binary that talks to a server never needs the
// library (and chdb-go's init-time panic when it is absent is avoided).
package chdb

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { void *internal_data; } *gm_conn;
typedef void gm_result;

typedef gm_conn *(*connect_fn)(int, char **);
typedef void (*close_fn)(gm_conn *);
typedef gm_result *(*query_n_fn)(gm_conn, const char *, size_t, const char *, size_t);
typedef char *(*buffer_fn)(gm_result *);
typedef size_t (*length_fn)(gm_result *);
typedef const char *(*error_fn)(gm_result *);
typedef void (*destroy_fn)(gm_result *);
typedef void (*signals_fn)(int);

static void *lib;
static connect_fn p_connect;
static close_fn p_close;
static query_n_fn p_query_n;
static buffer_fn p_buffer;
static length_fn p_length;
static error_fn p_error;
static destroy_fn p_destroy;
static signals_fn p_signals;

static const char *gm_load(const char *path) {
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
#define SYM(var, name) var = dlsym(lib, name); if (!var) return "symbol " name " missing";
	SYM(p_connect, "chdb_connect")
	SYM(p_close, "chdb_close_conn")
	SYM(p_query_n, "chdb_query_n")
	SYM(p_buffer, "chdb_result_buffer")
	SYM(p_length, "chdb_result_length")
	SYM(p_error, "chdb_result_error")
	SYM(p_destroy, "chdb_destroy_query_result")
	SYM(p_signals, "chdb_set_signal_handlers_enabled")
#undef SYM
	return NULL;
}

// The signals libchdb resets to SIG_DFL when its own handlers are turned off.
// Go's runtime owns them (nil dereferences become panics through SIGSEGV), so
// their dispositions are saved before and restored after every call that may
// reset them.
static const int guarded[] = {SIGABRT, SIGSEGV, SIGILL, SIGBUS, SIGSYS, SIGFPE, SIGTSTP, SIGTRAP};
#define NGUARDED (sizeof(guarded) / sizeof(guarded[0]))

static void save_signals(struct sigaction *saved) {
	for (size_t i = 0; i < NGUARDED; i++) sigaction(guarded[i], NULL, &saved[i]);
}
static void restore_signals(const struct sigaction *saved) {
	for (size_t i = 0; i < NGUARDED; i++) sigaction(guarded[i], &saved[i], NULL);
}

static void handlers(uintptr_t *out) {
	struct sigaction sa;
	for (size_t i = 0; i < NGUARDED; i++) {
		sigaction(guarded[i], NULL, &sa);
		out[i] = (uintptr_t)sa.sa_handler;
	}
}

static gm_conn *gm_connect(int argc, char **argv) {
	struct sigaction saved[NGUARDED];
	save_signals(saved);
	p_signals(0);
	gm_conn *c = p_connect(argc, argv);
	restore_signals(saved);
	return c;
}

static void gm_close(gm_conn *c) { p_close(c); }

static gm_result *gm_query(gm_conn *c, const char *q, size_t qlen, const char *fmt, size_t flen) {
	return p_query_n(*c, q, qlen, fmt, flen);
}
static char *gm_buffer(gm_result *r) { return p_buffer(r); }
static size_t gm_length(gm_result *r) { return p_length(r); }
static const char *gm_error(gm_result *r) { return p_error(r); }
static void gm_destroy(gm_result *r) { p_destroy(r); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

var (
	loadOnce sync.Once
	loadErr  error
)

// load opens libchdb once per process; the library cannot be unloaded safely.
func load(path string) error {
	loadOnce.Do(func() {
		cpath := C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
		if msg := C.gm_load(cpath); msg != nil {
			loadErr = fmt.Errorf("load %s: %s", path, C.GoString(msg))
		}
	})
	return loadErr
}

// engine is one open chDB connection. libchdb serves one query at a time per
// connection, so every call holds mu.
type engine struct {
	mu   sync.Mutex
	conn *C.gm_conn
}

func connect(libPath, dataPath string) (*engine, error) {
	if err := load(libPath); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataPath, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	args := []string{"clickhouse", "--path=" + dataPath}
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	conn := C.gm_connect(C.int(len(args)), &argv[0])
	if conn == nil {
		return nil, fmt.Errorf("open embedded ClickHouse at %s: connect failed (is another process using it?)", dataPath)
	}
	return &engine{conn: conn}, nil
}

// query runs one statement and returns its output in the given format.
func (e *engine) query(q, format string) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil, errors.New("embedded ClickHouse is closed")
	}
	cq := C.CString(q)
	defer C.free(unsafe.Pointer(cq))
	cf := C.CString(format)
	defer C.free(unsafe.Pointer(cf))
	res := C.gm_query(e.conn, cq, C.size_t(len(q)), cf, C.size_t(len(format)))
	if res == nil {
		return nil, errors.New("embedded ClickHouse returned no result")
	}
	defer C.gm_destroy(res)
	if msg := C.gm_error(res); msg != nil {
		return nil, errors.New(C.GoString(msg))
	}
	n := C.gm_length(res)
	if n == 0 {
		return nil, nil
	}
	return C.GoBytes(unsafe.Pointer(C.gm_buffer(res)), C.int(n)), nil
}

// signalHandlers returns the handlers of the signals libchdb may take over,
// so that tests can see they stay Go's.
func signalHandlers() [8]uintptr {
	var out [8]C.uintptr_t
	C.handlers(&out[0])
	var h [8]uintptr
	for i, v := range out {
		h[i] = uintptr(v)
	}
	return h
}

func (e *engine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		C.gm_close(e.conn)
		e.conn = nil
	}
}
