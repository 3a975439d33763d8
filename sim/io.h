// io.h — result files that are never half-written: every file goes to "<path>.tmp.<pid>" and is
// renamed over <path> only when complete. Also mkdir -p, .npy (writer here, reader in npy_read.c)
// and a JSON writer.
#ifndef MOESIM_IO_H
#define MOESIM_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// ---- buffer caps: one name per kind of buffer (bytes, NUL included) ----------------------------
// A path as given: a folder or a file named on the command line or in a config.
#define IO_PATH_MAX 1024
// A path built inside a given folder: folder + "/" + a name of our own (a run id, "manifest.json").
#define IO_CHILD_PATH_MAX (IO_PATH_MAX + 76)
// A path two levels down: folder/run/file, checkpoint/params/<tensor>.npy.
#define IO_DEEP_PATH_MAX (IO_CHILD_PATH_MAX + 300)
// An error message, which may name a path and quote a lower layer's message.
#define IO_MSG_MAX (IO_DEEP_PATH_MAX + 200)
// A message with its context prefixed ("what: <message>"), e.g. a run's failure reason.
#define IO_REASON_MAX 2048
// A message that names no path (a step's divergence, a measurement's failure).
#define IO_SHORT_MSG_MAX 256
_Static_assert(IO_REASON_MAX >= IO_MSG_MAX + 64, "a reason holds a message and its prefix");
// path_join() reports an overflow instead of truncating, so the caps only need to fit real paths.

typedef struct {
    FILE *f;
    char path[IO_DEEP_PATH_MAX];
    char tmp[IO_DEEP_PATH_MAX + 32];  // path + ".tmp.<pid>"
} AtomicFile;

// The functions below that take a path fail with errno ENAMETOOLONG when it is NULL, so the result
// of an overflowing path_join() can be passed straight in: f(path_join(...)) is an error, not UB.

// Opens the temporary file; returns its FILE*, or NULL with errno set.
FILE *afile_open(AtomicFile *a, const char *path);
// Flushes, closes and renames into place. Returns 0, or -1 (the temporary file is removed).
int afile_commit(AtomicFile *a);
// Closes and removes the temporary file.
void afile_abort(AtomicFile *a);

// rm -r: removes a file or a folder with everything in it (nothing there is fine). Returns 0, or
// -1 with errno set.
int remove_tree(const char *path);
// Appends the bytes of the file at path to out. Returns 0, or -1 with errno set.
int copy_file_into(FILE *out, const char *path);
// mkdir -p. Returns 0, or -1 with errno set.
int mkdir_p(const char *path);
int file_exists(const char *path);
// The whole text of a file, NUL-terminated and malloc'ed; NULL if it cannot be read.
char *read_text_file(const char *path);
// path = dir + "/" + name; returns path, or NULL with errno = ENAMETOOLONG when it does not fit in
// len bytes (a truncated path would name another file; path then holds it truncated, for messages).
char *path_join(char *path, size_t len, const char *dir, const char *name);

// .npy format 1.0, C order, little-endian. dtype "<f4", "<f8" or "<i4".
int npy_write(const char *path, const char *dtype, const void *data, int ndim, const size_t *shape);

// ---- .npy reading (npy_read.c): one header parser and one reader behind every .npy read ---------
// Versions 1.0, 2.0 and 3.0. Every field is checked (magic, version, header length, the dict's
// syntax and keys, descr, fortran_order, the shape: 1 to NPY_MAX_DIMS non-negative integers), the
// shape's element and byte counts are overflow-checked, and the data must be exactly as long as
// the shape says, checked against the file's length before anything is allocated (a short file
// and trailing bytes are both errors). Every error names the file and what is wrong.
#define NPY_MAX_DIMS 4
#define NPY_HEADER_MAX 65536  // the longest header read (numpy writes under 100 bytes)
#define NPY_SHAPE_TEXT_MAX 96  // "(d0, d1, d2, d3)" with 20-digit dimensions
typedef struct {
    char descr[16];               // "<f4", "|V2", ... as written (not yet checked against a use)
    int fortran;                  // fortran_order: True
    int ndim;                     // 1..NPY_MAX_DIMS
    size_t shape[NPY_MAX_DIMS];   // shape[ndim..] = 1
    size_t count;                 // elements: the product of the shape (checked not to overflow)
    size_t offset;                // bytes before the data: preamble + header
} NpyHeader;
// Parses the header of a .npy file of file_size bytes whose first len bytes are in buf (len may
// stop anywhere after the header). Returns 0, or -1 with what is wrong in err (no file name).
int npy_parse_header(const unsigned char *buf, size_t len, uint64_t file_size, NpyHeader *h, char *err,
                     size_t errlen);
// "(3, 4)", "(5,)": the shape as numpy writes it, into out (cap bytes); returns out.
char *npy_shape_text(const NpyHeader *h, char *out, size_t cap);

// Reads a 1-D to NPY_MAX_DIMS-D array as models write it, converted to float (want =
// NPY_WANT_FLOAT: float32, float64, float16; with as_bf16 != NULL also 2-byte raw bfloat16 bits,
// dtype <u2, <i2 or |V2) or to int32 (NPY_WANT_INT: int32 or int64, values must fit), in C order
// whatever the file's order (Fortran-order files are reordered as they stream). The file is read
// in 1 MiB chunks converted on the fly: peak memory is the output (4 bytes an element) + 1 MiB.
// *data is malloc'ed; shape[ndim..] are left as 1. Returns 0, or -1 with a message naming the
// file. The file must be a regular file (its length is checked before reading).
enum { NPY_WANT_FLOAT = 0, NPY_WANT_INT = 1 };
int npy_read_array(const char *path, int want, const char *as_bf16, void **data, int *ndim,
                   size_t shape[NPY_MAX_DIMS], char *err, size_t errlen);
// The same from an open stream at its start whose whole length is file_size (name: for messages).
int npy_read_stream(FILE *f, uint64_t file_size, const char *name, int want, const char *as_bf16, void **data,
                    int *ndim, size_t shape[NPY_MAX_DIMS], char *err, size_t errlen);
// Thin forms of npy_read_array that also check the number of dimensions:
// a 1-D to 3-D array as float (float32/64/16) or int32 (int32/64); shape[ndim..2] are set to 1.
int npy_read_float(const char *path, float **data, int *ndim, size_t shape[3], char *err, size_t errlen);
int npy_read_int32(const char *path, int32_t **data, int *ndim, size_t shape[3], char *err, size_t errlen);
// an int32 array of exactly ndim (<= NPY_MAX_DIMS) dimensions; shape[0..ndim).
int npy_read_int32_nd(const char *path, int32_t **data, int ndim, size_t *shape, char *err, size_t errlen);

// ---- JSON ---------------------------------------------------------------------------------------
// JsonWriter: every JSON file goes through it, so commas, indentation and escaping are in one place.
// Containers are written one member a line, indented two spaces a level (`{\n  "key": value,\n...}`),
// or, opened with a _flat call, on one line (`{"a": 1, "b": [1, 2]}`); anything inside a flat
// container is flat too. A value inside an object follows json_key; the top-level container's end
// writes a final newline. Strings: `"` and `\` escaped, \n and \t as such, other bytes < 0x20 as
// \u00XX, everything else (UTF-8 included) as is. Numbers: json_double is %.17g (round-trip exact),
// json_fixed %.*f (a value reported to a fixed number of places, as timings and means are); NaN and
// Inf become null.
#define JSON_MAX_DEPTH 16
typedef struct {
    FILE *f;
    int depth;                            // open containers
    int flat_from;                        // the depth from which containers are flat (0: none)
    unsigned char members[JSON_MAX_DEPTH];  // 1 once the container at that depth has a member
    char closers[JSON_MAX_DEPTH];           // '}' or ']' for the container at that depth
    int after_key;                        // a key was written, its value comes next
} JsonWriter;

void json_begin(JsonWriter *w, FILE *f);
void json_object(JsonWriter *w);
void json_object_flat(JsonWriter *w);
void json_array(JsonWriter *w);
void json_array_flat(JsonWriter *w);
void json_end(JsonWriter *w);  // closes the innermost container
void json_key(JsonWriter *w, const char *key);
void json_str(JsonWriter *w, const char *s);
void json_int(JsonWriter *w, long long v);
void json_uint(JsonWriter *w, unsigned long long v);
void json_double(JsonWriter *w, double v);
void json_fixed(JsonWriter *w, double v, int places);
void json_bool(JsonWriter *w, int v);
void json_null(JsonWriter *w);
// text written as is in a value's place (already valid JSON, e.g. a TOML array of numbers)
void json_raw(JsonWriter *w, const char *text);

// The value of a top-level key of a JSON file this program wrote (two-space indent, one key a line:
// `\n  "key": value`), strings unquoted and unescaped, others as written ("null", "12"). NULL when
// the key is missing.
const char *json_field(const char *json, const char *key, char *out, size_t cap);


// ---- shared helpers: error messages, the clock -------------------------------------------------

// Formats an error message into err (errlen bytes) and returns -1, so a failing function can
// `return io_fail(err, errlen, "cannot read %s", path);`.
int io_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Seconds on the monotonic clock (for durations only: its origin is arbitrary).
double io_now_s(void);
// A size in bytes as text in binary units, as messages show it: "512 B", "3.2 MiB", "1.9 GiB".
// Returns buf.
const char *io_bytes_text(char *buf, size_t cap, double bytes);

// ---- content hashes: 64-bit FNV-1a (not cryptographic; detects edits and corruption) -----------
#define IO_HASH_INIT 0xcbf29ce484222325ULL
// Continues hash h over n bytes; start from IO_HASH_INIT.
uint64_t io_hash_bytes(uint64_t h, const void *data, size_t n);
// The hash of a whole file's bytes into *h. Returns 0, or -1 with errno set.
int io_hash_file(const char *path, uint64_t *h);
// A hash as it is written in files: 16 lowercase hex digits (out holds at least 17 bytes).
void io_hash_hex(uint64_t h, char out[17]);

#endif
