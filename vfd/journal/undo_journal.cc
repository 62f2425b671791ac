#include "journal/undo_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/fd.h"
#include "journal/crc32c.h"

namespace h5redislock {
namespace {

constexpr char kMagic[8] = {'H', '5', 'R', 'L', 'J', 'N', 'L', '1'};
// Version 1 checksummed with zlib's CRC-32; version 2 with CRC-32C, which
// costs a third as much where the CPU has an instruction for it; version 3,
// written now, numbers the sessions of one journal (Restart) and a record's
// header checksum covers its session's number. Journals of each are rolled
// back.
constexpr uint32_t kVersion = 3;
constexpr size_t kHeaderSize = 128;
constexpr size_t kRecordHeaderSize = 24;      // offset, length, data crc, header crc
constexpr uint64_t kMaxRecord = 1 << 20;      // larger ranges become several records
constexpr uint32_t kFlagAbsent = 1;           // the file did not exist: undo is deleting it
// Builds before version 3 made the next session's journal under this name,
// then renamed it over the journal: a holder that died in between left it.
constexpr char kNextSuffix[] = ".next";

// The header, as laid out on disk (little-endian host assumed, as HDF5 on
// every platform this driver builds for).
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t original_end;
  int64_t fence;
  char token[64];
  uint32_t flags;
  uint32_t session;  // version 3: which session of the journal (Restart)
  char reserved[kHeaderSize - 8 - 4 - 4 - 8 - 8 - 64 - 4 - 4 - 4];
  uint32_t crc;
};
static_assert(sizeof(Header) == kHeaderSize, "journal header layout");

struct RecordHeader {
  uint64_t offset;
  uint64_t length;
  uint32_t data_crc;
  uint32_t header_crc;
};
static_assert(sizeof(RecordHeader) == kRecordHeaderSize, "journal record layout");

uint32_t ZlibCrc(const void* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const Bytef* p = static_cast<const Bytef*>(data);
  while (size > 0) {  // crc32 takes a uInt length
    uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

using Checksum = uint32_t (*)(const void* data, size_t size);

// The checksum of a journal version; null for a version this build cannot read.
Checksum ChecksumOf(uint32_t version) {
  switch (version) {
    case 1: return ZlibCrc;
    case 2:
    case kVersion: return Crc32c;
  }
  return nullptr;
}

constexpr Checksum Crc = Crc32c;  // of the journals written now

// The checksum of a record's header in a journal of `version`: from version
// 3 on it covers the number of the session that wrote it too, so that a
// record of the session before a Restart, left behind the new header by a
// holder that died restarting, reads as torn: the end of the rollback.
uint32_t RecordHeaderCrc(Checksum crc, const RecordHeader& r, uint32_t version, uint32_t session) {
  if (version < 3) return crc(&r, offsetof(RecordHeader, header_crc));
  struct {
    uint64_t offset;
    uint64_t length;
    uint32_t data_crc;
    uint32_t session;
  } covered{r.offset, r.length, r.data_crc, session};
  static_assert(sizeof covered == 24, "no padding in what the checksum covers");
  return crc(&covered, sizeof covered);
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::IoError(what + " '" + path + "': " + std::strerror(errno));
}

bool PreadAll(int fd, void* data, size_t size, uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {  // past the end: the file had a hole or was shorter
      std::memset(p, 0, size);
      return true;
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

bool ReadExactly(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool PwriteAll(int fd, const void* data, size_t size, uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// Makes a creation, rename or unlink in the file's directory durable.
bool SyncDirectoryOf(const std::string& path) {
  Fd directory(open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return directory.get() >= 0 && fsync(directory.get()) == 0;
}

// Where `a` and `b`, n bytes each, differ: from the first byte that differs
// to one past the last; lo == n if they are equal. memcmp over blocks, then
// bytes within the block that differs.
void Differing(const char* a, const char* b, size_t n, size_t* lo, size_t* hi) {
  constexpr size_t kBlocks[] = {4096, 64, 1};
  size_t first = 0, end = n;
  for (size_t block : kBlocks)
    while (n - first >= block && std::memcmp(a + first, b + first, block) == 0) first += block;
  for (size_t block : kBlocks)
    while (end - first >= block && std::memcmp(a + end - block, b + end - block, block) == 0) end -= block;
  *lo = first;
  *hi = end;
}

// Ranges, start -> end, disjoint: adds [lo, hi), merged with its neighbours.
void AddRange(std::map<uint64_t, uint64_t>* ranges, uint64_t lo, uint64_t hi) {
  auto it = ranges->lower_bound(lo);
  if (it != ranges->begin() && std::prev(it)->second >= lo) {
    --it;
    lo = it->first;
    hi = std::max(hi, it->second);
    it = ranges->erase(it);
  }
  while (it != ranges->end() && it->first <= hi) {
    hi = std::max(hi, it->second);
    it = ranges->erase(it);
  }
  (*ranges)[lo] = hi;
}

// Whether any of `ranges` overlaps [lo, hi).
bool Overlaps(const std::map<uint64_t, uint64_t>& ranges, uint64_t lo, uint64_t hi) {
  auto next = ranges.lower_bound(hi);
  return next != ranges.begin() && std::prev(next)->second > lo;
}

}  // namespace

std::string UndoJournal::PathFor(const std::string& data_path) { return data_path + "-redislock-journal"; }

bool UndoJournal::Visible(const std::string& data_path, bool revalidate) {
  Fd directory(revalidate ? open(DirectoryOf(data_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1);
  struct stat st;
  return stat(PathFor(data_path).c_str(), &st) == 0;
}

std::string UndoJournal::DirectoryDevice(const std::string& data_path) {
  struct stat st;
  return stat(DirectoryOf(data_path).c_str(), &st) == 0 ? std::to_string(st.st_dev) : "";
}

Status UndoJournal::Recover(const std::string& data_path, const std::function<Status()>& still_locked,
                            bool* rolled_back) {
  *rolled_back = false;
  const std::string path = PathFor(data_path);
  unlink((path + kNextSuffix).c_str());  // a next session's journal never renamed: its holder died making it
  Fd journal(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (journal.get() < 0) return errno == ENOENT ? Status::OK() : Errno("cannot open the journal", path);

  Header header;
  bool valid = ReadExactly(journal.get(), &header, sizeof header) &&
               std::memcmp(header.magic, kMagic, sizeof kMagic) == 0;
  const Checksum crc = valid ? ChecksumOf(header.version) : nullptr;
  if (valid && !crc)
    return Status::Corrupt("the journal '" + path + "' of an unfinished write session is of version " +
                           std::to_string(header.version) +
                           ", which this h5redislock cannot roll back: open the file once with the newer "
                           "h5redislock that wrote it");
  valid = valid && header.header_size == kHeaderSize && header.crc == crc(&header, offsetof(Header, crc));
  Status s;
  if (valid && (header.flags & kFlagAbsent)) {
    // The session created the file: undoing it removes the file.
    if (!(s = still_locked()).ok()) return s;
    if (unlink(data_path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", data_path);
    *rolled_back = true;
  } else if (valid) {
    // The session that wrote this journal is not live (we hold the exclusive
    // lock): undo it.
    Fd data(open(data_path.c_str(), O_RDWR | O_CLOEXEC));
    if (data.get() < 0) return Errno("cannot open for rollback", data_path);
    if (!(s = still_locked()).ok()) return s;
    if (ftruncate(data.get(), static_cast<off_t>(header.original_end)) != 0)
      return Errno("cannot truncate for rollback", data_path);
    std::vector<char> bytes;
    for (RecordHeader r; ReadExactly(journal.get(), &r, sizeof r);) {
      if (r.header_crc != RecordHeaderCrc(crc, r, header.version, header.session) || r.length > kMaxRecord ||
          r.offset + r.length > header.original_end)
        break;  // torn: written when the session died, before its overwrite
      bytes.resize(r.length);
      if (!ReadExactly(journal.get(), bytes.data(), bytes.size()) || r.data_crc != crc(bytes.data(), bytes.size()))
        break;
      if (!(s = still_locked()).ok()) return s;
      if (!PwriteAll(data.get(), bytes.data(), bytes.size(), r.offset)) return Errno("cannot roll back", data_path);
    }
    if (fsync(data.get()) != 0) return Errno("cannot sync the rolled-back", data_path);
    *rolled_back = true;
  }
  // A torn header means the session never wrote to the file. Remove the
  // journal we read, not one a later holder may have made under its name.
  if (!(s = still_locked()).ok()) return s;
  struct stat read_one, named;
  if (fstat(journal.get(), &read_one) != 0 || stat(path.c_str(), &named) != 0 || read_one.st_ino != named.st_ino ||
      read_one.st_dev != named.st_dev)
    return Status::LockLost("the journal of '" + data_path + "' changed during its rollback");
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove the journal", path);
  SyncDirectoryOf(path);
  return Status::OK();
}

UndoJournal::UndoJournal(std::string data_path, std::string token, long long fence, bool durable)
    : data_path_(std::move(data_path)),
      path_(PathFor(data_path_)),
      token_(std::move(token)),
      fence_(fence),
      durable_(durable) {
  data_fd_.reset(open(data_path_.c_str(), O_RDONLY | O_CLOEXEC));
  absent_ = data_fd_.get() < 0 && errno == ENOENT;
  struct stat st;
  if (data_fd_.get() >= 0 && fstat(data_fd_.get(), &st) == 0) original_end_ = static_cast<uint64_t>(st.st_size);
}

// Writes the header of the current session at the start of `fd`: the
// session on the data file began when it was `original_end` long (`absent`:
// did not exist).
bool UndoJournal::WriteHeader(int fd) const {
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kVersion;
  header.header_size = kHeaderSize;
  header.original_end = original_end_;
  header.fence = fence_;
  header.flags = absent_ ? kFlagAbsent : 0;
  header.session = session_;
  std::strncpy(header.token, token_.c_str(), sizeof header.token - 1);
  header.crc = Crc(&header, offsetof(Header, crc));
  return PwriteAll(fd, &header, sizeof header, 0);
}

// Makes a journal at `path` with the header of the current session. A
// journal left half-made is removed.
Status UndoJournal::Make(const std::string& path, Fd* out) const {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Errno("cannot create the journal", path);
  if (!WriteHeader(fd.get())) {
    Status s = Errno("cannot write the journal", path);
    unlink(path.c_str());  // nothing was written under it
    return s;
  }
  *out = std::move(fd);
  return Status::OK();
}

Status UndoJournal::Begin() {
  if (data_fd_.get() < 0 && !absent_) return Errno("cannot read the old contents of", data_path_);
  Status made = Make(path_, &journal_fd_);
  if (!made.ok()) return made;
  journal_size_ = kHeaderSize;
  synced_ = false;
  // Durable: the journal is on disk, under its name, before any write of
  // the session can be, appends included (a rollback truncates them away).
  if (!durable_) return Status::OK();
  Status s = SyncJournal();
  if (s.ok() && !SyncDirectoryOf(path_)) s = Errno("cannot sync the directory of", path_);
  return s;
}

Status UndoJournal::Refused() const {
  return Status::Error(poisoned_.code(), "the write session on '" + data_path_ +
                                             "' failed before, and is rolled back at its close: " +
                                             poisoned_.message());
}

void UndoJournal::Poison(const Status& cause) {
  if (poisoned_.ok()) poisoned_ = cause;
}

Status UndoJournal::RollBack(const std::function<Status()>& still_locked) {
  held_back_.clear();
  journal_fd_.reset();
  bool rolled_back = false;
  return Recover(data_path_, still_locked, &rolled_back);
}

// Appends the old bytes of the parts of [offset, offset + size) not saved
// before, as records of at most kMaxRecord bytes. Given the bytes a write
// puts there (`fresh`), the first look at a range keeps only the part from
// the first byte the write changes to the last: HDF5 rewrites whole sieve
// buffers (64 KiB by default) to change a few bytes of them, and a byte
// written as it was needs no undo. The rest stays unsaved but looked at
// (below the original end, a byte not saved still holds what it held when
// the session began), and a later write there saves it whole, without
// comparing again: a session that rewrites a range over and over reads it
// at most twice.
Status UndoJournal::Save(uint64_t offset, uint64_t size, const void* fresh) {
  uint64_t end = std::min(offset + size, original_end_);
  // One buffer for the session's records: filling a fresh one would cost its
  // zeroing and page faults on every save.
  std::vector<char>& bytes = record_;
  uint64_t at = offset;
  while (at < end) {
    // Skip what an already saved range covers.
    auto next = saved_.upper_bound(at);
    if (next != saved_.begin()) {
      auto prev = std::prev(next);
      if (prev->second > at) {
        at = prev->second;
        continue;
      }
    }
    uint64_t gap_end = next == saved_.end() ? end : std::min(end, next->first);
    uint64_t length = std::min(gap_end - at, kMaxRecord);
    if (bytes.size() < kRecordHeaderSize + length) bytes.resize(kRecordHeaderSize + length);
    char* old = bytes.data() + kRecordHeaderSize;
    if (!PreadAll(data_fd_.get(), old, length, at)) return Errno("cannot read the old contents of", data_path_);
    uint64_t from = at, count = length;  // what the record keeps
    if (fresh && !Overlaps(looked_at_, at, at + length)) {
      size_t lo = 0, hi = 0;
      Differing(old, static_cast<const char*>(fresh) + (at - offset), length, &lo, &hi);
      AddRange(&looked_at_, at, at + length);
      if (lo == length) {  // written as it is
        at += length;
        continue;
      }
      if (lo > 0) std::memmove(old, old + lo, hi - lo);
      from = at + lo;
      count = hi - lo;
    }
    RecordHeader r{from, count, Crc(old, count), 0};
    r.header_crc = RecordHeaderCrc(Crc, r, kVersion, session_);
    std::memcpy(bytes.data(), &r, sizeof r);
    // One write(2) per record: a killed process leaves it whole or torn,
    // never followed by the overwrite it protects. A failed one is cut off
    // (if that fails too, the session's poisoning keeps it last).
    if (!PwriteAll(journal_fd_.get(), bytes.data(), kRecordHeaderSize + count, journal_size_)) {
      Status s = Errno("cannot write the journal", path_);
      if (ftruncate(journal_fd_.get(), static_cast<off_t>(journal_size_)) != 0)
        s = Status::IoError(s.message() + "; cutting the torn record off failed too: " + std::strerror(errno));
      return s;
    }
    journal_size_ += kRecordHeaderSize + count;
    synced_ = false;
    bytes_saved_ += count;
    AddRange(&saved_, from, from + count);
    at += length;
  }
  return Status::OK();
}

Status UndoJournal::SyncJournal() {
  if (synced_ || journal_fd_.get() < 0) return Status::OK();
  if (fdatasync(journal_fd_.get()) != 0) return Errno("cannot sync the journal", path_);
  synced_ = true;
  return Status::OK();
}

void UndoJournal::HoldBack(uint64_t offset, uint64_t size, const void* buf) {
  const char* bytes = static_cast<const char*>(buf);
  uint64_t end = offset + size;
  // Trim or split held-back pieces that the new bytes overlap.
  auto it = held_back_.upper_bound(offset);
  if (it != held_back_.begin()) --it;
  while (it != held_back_.end() && it->first < end) {
    uint64_t piece_start = it->first, piece_end = it->first + it->second.size();
    if (piece_end <= offset) {
      ++it;
      continue;
    }
    std::string piece = std::move(it->second);
    it = held_back_.erase(it);
    if (piece_start < offset) held_back_[piece_start] = piece.substr(0, offset - piece_start);
    if (piece_end > end) held_back_[end] = piece.substr(end - piece_start);
  }
  held_back_[offset] = std::string(bytes, size);
}

Status UndoJournal::Write(uint64_t offset, uint64_t size, const void* buf, const Transfer& write) {
  if (!poisoned_.ok()) return Refused();
  touched_ = true;
  if (offset < original_end_) {
    uint64_t below = std::min(size, original_end_ - offset);
    Status s = Save(offset, below, buf);
    if (!s.ok()) return s;
    if (durable_) {
      HoldBack(offset, below, buf);
      if (below == size) return Status::OK();
      return write(offset + below, size - below, const_cast<char*>(static_cast<const char*>(buf)) + below);
    }
  }
  return write(offset, size, const_cast<void*>(buf));
}

Status UndoJournal::Read(uint64_t offset, uint64_t size, void* buf, const Transfer& read) const {
  Status s = read(offset, size, buf);
  if (!s.ok() || held_back_.empty()) return s;
  uint64_t end = offset + size;
  auto it = held_back_.upper_bound(offset);
  if (it != held_back_.begin()) --it;
  for (; it != held_back_.end() && it->first < end; ++it) {
    uint64_t lo = std::max(offset, it->first), hi = std::min(end, it->first + it->second.size());
    if (lo < hi) std::memcpy(static_cast<char*>(buf) + (lo - offset), it->second.data() + (lo - it->first), hi - lo);
  }
  return Status::OK();
}

Status UndoJournal::BeforeTruncate(uint64_t new_size) {
  if (!poisoned_.ok()) return Refused();
  touched_ = true;
  if (new_size < original_end_) {
    Status s = Save(new_size, original_end_ - new_size, nullptr);
    if (!s.ok()) return s;
  }
  // Held-back bytes past the new end would resurrect truncated data.
  for (auto it = held_back_.lower_bound(new_size); it != held_back_.end();) it = held_back_.erase(it);
  auto last = held_back_.empty() ? held_back_.end() : std::prev(held_back_.end());
  if (last != held_back_.end() && last->first + last->second.size() > new_size) last->second.resize(new_size - last->first);
  return durable_ ? SyncJournal() : Status::OK();
}

Status UndoJournal::Flush(const Transfer& write) {
  if (!poisoned_.ok()) return Refused();
  if (held_back_.empty()) return Status::OK();
  Status s = SyncJournal();  // the undo must be on disk before the overwrites can be
  for (auto& [offset, bytes] : held_back_) {
    if (!s.ok()) break;
    s = write(offset, bytes.size(), bytes.data());
  }
  if (s.ok()) held_back_.clear();
  return s;
}

// Whether the journal under our name is still the one we wrote: if we lost
// the lock, a later holder may have rolled ours back and started its own.
Status UndoJournal::StillOurs() const {
  struct stat ours, named;
  const bool same = fstat(journal_fd_.get(), &ours) == 0 && stat(path_.c_str(), &named) == 0 &&
                    ours.st_ino == named.st_ino && ours.st_dev == named.st_dev;
  if (same) return Status::OK();
  return Status::LockLost("the journal of '" + data_path_ + "' was replaced: the session was rolled back");
}

// The session's writes are all in the file (and, if durable, on disk).
Status UndoJournal::Settle(const Transfer& write) {
  Status s = Flush(write);
  if (!s.ok()) return s;
  if (durable_ && data_fd_.get() >= 0 && fsync(data_fd_.get()) != 0) return Errno("cannot sync", data_path_);
  return Status::OK();
}

Status UndoJournal::Commit(const Transfer& write) {
  Status s = Settle(write);
  return s.ok() ? Discard() : s;
}

Status UndoJournal::Discard() {
  Status s = StillOurs();
  journal_fd_.reset();
  if (!s.ok()) return s;
  if (unlink(path_.c_str()) != 0) return Errno("cannot remove the journal (commit)", path_);
  if (durable_) SyncDirectoryOf(path_);
  return Status::OK();
}

Status UndoJournal::Restart(const Transfer& write) {
  Status s = Settle(write);
  if (s.ok()) s = StillOurs();
  if (!s.ok()) return s;
  // The next session begins with the file as it is now.
  Fd data(open(data_path_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (data.get() < 0 || fstat(data.get(), &st) != 0) return Errno("cannot read the old contents of", data_path_);
  const uint64_t previous_end = original_end_;
  const bool previous_absent = absent_;
  original_end_ = static_cast<uint64_t>(st.st_size);
  absent_ = false;
  ++session_;
  // In place, in this order: the new header over the old (one pwrite: a
  // killed holder leaves the old header or the new, whole), then the old
  // records cut off. A holder that dies between leaves the new header
  // before records of the session before, which read as torn under it
  // (RecordHeaderCrc): the rollback changes nothing. Durable, the header is
  // on disk before the cut, so that no crash leaves the old header with its
  // records gone. (A new file renamed over the journal, as before, cost ten
  // times as much: ext4 writes a file renamed over another out at once.)
  if (!WriteHeader(journal_fd_.get())) {
    s = Errno("cannot write the journal", path_);
  } else if (durable_ && fdatasync(journal_fd_.get()) != 0) {
    s = Errno("cannot sync the journal", path_);
  } else if (ftruncate(journal_fd_.get(), kHeaderSize) != 0) {
    s = Errno("cannot empty the journal", path_);
  }
  if (!s.ok()) {
    // The session is committed if the new header got out: whether it did is
    // unknown. The caller commits it for good instead (Commit's removal).
    original_end_ = previous_end;
    absent_ = previous_absent;
    return s;
  }
  data_fd_ = std::move(data);
  journal_size_ = kHeaderSize;
  synced_ = !durable_;  // durable: the cut is synced with the next session's first records
  saved_.clear();
  looked_at_.clear();
  bytes_saved_ = 0;
  held_back_.clear();
  touched_ = false;
  return Status::OK();
}

}  // namespace h5redislock
