// undo_journal.h: all-or-nothing write sessions for one file.
//
// HDF5 keeps no journal: a writer killed between its first write and its
// close leaves metadata pointing at garbage, and the next holder of the lock,
// whom crash recovery lets in within a second, would open a corrupt file. An
// exclusive open is therefore a *write session*, and the session keeps an
// undo journal beside the file (`<file>-redislock-journal`):
//
//   header   magic, version, the session's lock token and fencing number,
//            the file's size when the session began (its original end),
//            the session's number in the journal (Restart), and a checksum
//            of all that
//   records  offset, length, checksum, then the bytes the file held there
//            (the header's checksum covers the session's number too)
//   (checksums: CRC-32C, crc32c.h; zlib's CRC-32 in version 1 journals)
//
// The journal is made when the session begins, before its open returns and
// before its first write of any kind (its header holds the original end);
// with durable=1 it is synced then, and its directory too. So a session that
// dies leaves its journal wherever it got, and the lock's *session mark* in
// Redis (lock_protocol.cc, "Write sessions") tells the next holder that it
// must find one, or know why not. Before the first overwrite of a byte range
// that existed when the session began, the old bytes are appended to it,
// from the first byte the write changes to the last the first time the
// range is written (bytes written as they were need no undo), whole after
// that; a range is saved once.
// Writes past the original end need no undo: rolling back truncates. A
// truncation below the original end saves the bytes it cuts off.
//
// Order, and what it survives:
//   journal=undo, durable=0  a record is write(2)n before the overwrite is:
//            the page cache outlives a killed process, so rolling back always
//            finds every overwritten range. Survives process death.
//   journal=undo, durable=1  overwrites of original bytes are held back in
//            memory until the next flush; then the journal is synced once,
//            the held-back overwrites are written, and (at close) the file is
//            synced before the journal is removed, and the directory after.
//            One journal sync per flush, not per write; reads see the held-back
//            bytes. Survives machine crashes and power loss too, given a file
//            system and disk that honour fsync.
//
// The commit point is the unlink of the journal after the file holds every
// write of the session (and, if durable, has reached the disk); for a lock
// kept between opens, the next session's header written over it (Restart).
//
// A session whose write path fails (a write, flush, truncate or close of the
// file, a save to the journal: a full disk, a quota, a file-size limit, EIO)
// is *poisoned*: HDF5 goes on after such a failure and still closes the
// file, which would commit a half-written session. So every later write,
// flush and truncate of the session fails with its first failure, and its
// last close rolls it back instead of committing (RollBack), while the lock
// is still held. A save cut short is cut off the journal (ftruncate to the
// last whole record), and being poisoned the session appends nothing after
// it: a rollback, which stops at the first torn record, reads every record
// that protects an overwrite.
//
// Recovery (Recover) runs under the exclusive lock, so the session that left
// the journal is not live: its holder died, or lost its lease and is fenced.
// It truncates the file to the original end, writes back every record whose
// checksum holds, stops at the first torn record (the session died while
// appending it, so the range it describes was never overwritten), syncs, and
// removes the journal. A journal whose header is torn was never followed by a
// write to the file: it is removed. A session that created the file has a
// journal from the start, flagged "absent": undoing it deletes the file.
//
// Thread-safety: a journal belongs to one write session; callers serialize.
#ifndef H5REDISLOCK_UNDO_JOURNAL_H_
#define H5REDISLOCK_UNDO_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/status.h"

namespace h5redislock {

class UndoJournal {
 public:
  // The journal path of a data file (by its canonical path).
  static std::string PathFor(const std::string& data_path);
  // Whether a journal is beside `data_path`. With `revalidate`, looked up
  // after opening its directory: an NFS client then revalidates the names it
  // caches there (close-to-open), "no such file" included. (A cache that
  // does not can still hide a journal: see the session mark, lock_protocol.cc.)
  static bool Visible(const std::string& data_path, bool revalidate);
  // The st_dev of the directory of `data_path` and its journal, as this
  // process sees it, in decimal ("" if it cannot be read): with the host key,
  // which view of that directory a process has.
  static std::string DirectoryDevice(const std::string& data_path);

  // Rolls `data_path` back if a journal is beside it. *rolled_back tells
  // whether there was anything to undo. REQUIRES: the exclusive lock;
  // `still_locked` is asked before every change to the file or the journal,
  // so that a recoverer paused past its lease stops (a rollback is
  // idempotent: the next holder starts it again from the journal).
  static Status Recover(const std::string& data_path, const std::function<Status()>& still_locked,
                        bool* rolled_back);

  // Starts the journal of a session on `data_path`, whose current size is
  // the original end.
  UndoJournal(std::string data_path, std::string token, long long fence, bool durable);
  // Call once, before the session's open returns: makes the journal (and, if
  // durable, syncs it and its directory). A file that does not exist yet is
  // created after its journal, which says "undo = delete".
  Status Begin();
  ~UndoJournal() = default;
  UndoJournal(const UndoJournal&) = delete;
  UndoJournal& operator=(const UndoJournal&) = delete;

  // How the caller's driver moves bytes; the journal decides when.
  using Transfer = std::function<Status(uint64_t offset, uint64_t size, void* buf)>;

  // Writes [offset, offset + size) through `write`, first saving the old
  // bytes of the part below the original end that were not saved before.
  Status Write(uint64_t offset, uint64_t size, const void* buf, const Transfer& write);
  // Reads through `read`, then lays over it the bytes held back for a flush.
  Status Read(uint64_t offset, uint64_t size, void* buf, const Transfer& read) const;
  // Saves what truncating to `new_size` cuts off; the caller truncates after.
  Status BeforeTruncate(uint64_t new_size);
  // Before the whole file is replaced (an open with H5F_ACC_TRUNC).
  Status BeforeReplace() { return BeforeTruncate(0); }
  // Writes the held-back overwrites (durable mode), after syncing the journal.
  Status Flush(const Transfer& write);

  // Makes the session permanent: flushes, syncs the data file if durable,
  // then removes the journal: the commit point.
  Status Commit(const Transfer& write);

  // Commits the session and begins the next one in the same journal, for a
  // lock this process keeps between opens (lock caching, lock_table.h): a
  // new header, of the next session (numbered one more), says "nothing
  // changed yet": the file's size now. It is written over the old one in
  // place, then the records are cut off. The commit point is the header's
  // write: records left behind it by a holder that died before the cut are
  // of another session, and read as torn. So a holder that dies between
  // sessions leaves a journal whose rollback changes nothing, never no
  // journal (the lock's session mark says one must be there:
  // lock_protocol.cc, "Write sessions").
  Status Restart(const Transfer& write);
  // Removes the journal of a session that changed nothing since it began
  // (Restart's, when the lock is finally let go): as Commit's last step.
  Status Discard();
  // Whether the session wrote, or truncated, anything since it began.
  bool touched() const { return touched_; }

  // Poisons the session with `cause`, unless it is poisoned already: the
  // first failure is the one reported.
  void Poison(const Status& cause);
  // OK while the session is sound; else its first failure.
  const Status& poisoned() const { return poisoned_; }
  // Undoes the whole session from its journal, as the next holder would
  // (Recover, with the same `still_locked`): for a poisoned session's last
  // close. On failure the journal stays, for the next holder.
  Status RollBack(const std::function<Status()>& still_locked);

  uint64_t original_end() const { return original_end_; }
  uint64_t bytes_saved() const { return bytes_saved_; }

 private:
  Status Refused() const;
  bool WriteHeader(int fd) const;
  Status Make(const std::string& path, Fd* out) const;
  Status StillOurs() const;
  Status Settle(const Transfer& write);
  Status Save(uint64_t offset, uint64_t size, const void* fresh);
  Status SyncJournal();
  void HoldBack(uint64_t offset, uint64_t size, const void* buf);

  const std::string data_path_;
  const std::string path_;
  const std::string token_;
  const long long fence_;
  const bool durable_;
  bool absent_ = false;  // the file did not exist when the session began
  uint64_t original_end_ = 0;
  uint32_t session_ = 0;  // which session of the journal: one more at each Restart
  Fd journal_fd_;
  uint64_t journal_size_ = 0;  // up to the end of the last whole record
  Fd data_fd_;  // the file as it was when the session began, for Save
  Status poisoned_;
  bool touched_ = false;  // the session wrote or truncated
  bool synced_ = true;                  // nothing saved since the last sync
  std::map<uint64_t, uint64_t> saved_;  // start -> end of saved ranges, disjoint
  std::map<uint64_t, uint64_t> looked_at_;  // ranges a write was compared with (Save), disjoint
  uint64_t bytes_saved_ = 0;
  std::map<uint64_t, std::string> held_back_;  // durable: offset -> bytes, disjoint
  std::vector<char> record_;                   // Save's buffer, kept for the session
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_UNDO_JOURNAL_H_
