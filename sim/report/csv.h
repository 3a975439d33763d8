// csv.h — a small reader for the result CSVs (summary.csv, metrics.csv, eval.csv, ...).
//
// The format is the one our writers produce, read strictly: the first line is the header, every
// following non-empty line has exactly as many fields as the header (a ragged line is an error
// naming its line), fields are separated by ',', and a field may be double-quoted with "" for a
// quote inside (RFC 4180), so a status like `failed: x, y` survives. CRLF line ends are accepted.
// Numbers are read with csv_num: a cell that is not a whole number (`nan`, empty, text) is NaN.
// Nothing here prints or exits.
#ifndef MOESIM_CSV_H
#define MOESIM_CSV_H

#include <stddef.h>

typedef struct {
    int ncols;
    size_t nrows;
    char **names;   // ncols header names
    char **cells;   // nrows x ncols, row-major; every cell a NUL-terminated string
    char *buf;      // one block holding the decoded text of every cell
} Csv;

// Reads a whole file. Returns 0, or -1 with a message naming the file (and line) in err; on
// failure *t is empty and need not be freed (freeing it is harmless).
int csv_read(Csv *t, const char *path, char *err, size_t errlen);
// The same for text in memory; `name` stands for the file in messages.
int csv_parse(Csv *t, const char *name, const char *text, size_t len, char *err, size_t errlen);
void csv_free(Csv *t);

// Index of the column called name, or -1.
int csv_col(const Csv *t, const char *name);
// The text of a cell ("" when col < 0 or row is out of range).
const char *csv_cell(const Csv *t, size_t row, int col);
// A cell as a number: the whole cell must parse (strtod), else NaN; "nan"/"inf" parse as such.
double csv_num(const Csv *t, size_t row, int col);
// Parses s the same way.
double csv_parse_num(const char *s);

#endif
