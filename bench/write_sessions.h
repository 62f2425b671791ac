// write_sessions.h: the kinds of write session that an HDF5 program makes,
// for the undo journal: case 9 of the benchmark (journal_bench.cc) times
// each with and without the journal, and the crash matrix
// (tests/journal_test.cc) kills a writer after each of its writes. One
// definition, so that what is measured is what is shown to survive a kill;
// the two differ only in the size of the file (SessionFile).
//
// It lives in bench/ because scripts/check-layers lets the tests use
// anything and the benchmarks no part of tests/. It needs only HDF5.
//
// Thread-safety: as HDF5 (one thread at a time).
#ifndef H5REDISLOCK_BENCH_WRITE_SESSIONS_H_
#define H5REDISLOCK_BENCH_WRITE_SESSIONS_H_

#include <hdf5.h>

#include <string>

namespace h5redislock {
namespace bench {

// The file the sessions start from:
//   "chunked"  32-bit integers, `width` columns, extendible rows in chunks of
//              `chunk_rows`; two chunks of rows to begin with
//   "dense"    `dense_values` floats, contiguous
//   "meta"     an attribute of eight integers
//   "g0".."g2" groups
struct SessionFile {
  hsize_t width;
  hsize_t chunk_rows;
  hsize_t dense_values;
};

enum class WriteSession {
  kAppendRows,        // extends "chunked" by a chunk of rows and writes them
  kOverwriteChunk,    // overwrites its first chunk
  kUpdateAttributes,  // rewrites "meta" and adds an attribute of 64 integers
  kGroups,            // creates four groups, deletes one of g0..g2 and creates it again
  kRewriteDataset,    // rewrites all of "dense"
};

// Creates (truncating) `path` through `fapl`, shaped as `shape` says. False
// if an HDF5 call failed.
bool MakeSessionFile(const std::string& path, hid_t fapl, const SessionFile& shape);

// One session of `kind` on the open `file` (made by MakeSessionFile);
// `salt` varies the values and names written, and sessions with different
// salts can follow each other on one file. False if an HDF5 call failed.
bool RunWriteSession(hid_t file, const SessionFile& shape, WriteSession kind, int salt);

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_WRITE_SESSIONS_H_
