// undo_journal_format_test.cc: the journal's on-disk format, byte by byte.
//
// journal_test.cc kills real writers and checks what recovery makes of the
// journals they leave; this file writes journals itself, to pin down what
// recovery must do with the ones no crash of this build produces: journals
// of versions 1 (zlib's CRC-32) and 2 (no session numbers), left by older
// builds, are rolled back, one of an unknown version is refused and kept, a
// record whose checksum fails ends the rollback there, and so does a record
// of the session before the header's (a holder that died restarting its
// journal for the next session). And the checksum itself, CRC-32C.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "base/fd.h"
#include "journal/crc32c.h"
#include "journal/undo_journal.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

// The layout of undo_journal.cc, written down again: a change there that
// breaks the format breaks these tests.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t original_end;
  int64_t fence;
  char token[64];
  uint32_t flags;
  uint32_t session;  // version 3
  char reserved[128 - 8 - 4 - 4 - 8 - 8 - 64 - 4 - 4 - 4];
  uint32_t crc;
};
static_assert(sizeof(Header) == 128, "journal header layout");
struct RecordHeader {
  uint64_t offset;
  uint64_t length;
  uint32_t data_crc;
  uint32_t header_crc;
};

using Checksum = uint32_t (*)(const void*, size_t);

uint32_t ZlibCrc(const void* data, size_t size) {
  return static_cast<uint32_t>(crc32(0, static_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

// CRC-32C bit by bit, the definition the fast versions must agree with.
uint32_t BitwiseCrc32c(const void* data, size_t size) {
  uint32_t crc = ~0u;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
  }
  return ~crc;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A record header's checksum: in version 3 it covers the number of the
// session that wrote the record too.
uint32_t RecordHeaderCrc(Checksum crc, const RecordHeader& r, uint32_t version, uint32_t session) {
  if (version < 3) return crc(&r, offsetof(RecordHeader, header_crc));
  struct {
    uint64_t offset, length;
    uint32_t data_crc, session;
  } covered{r.offset, r.length, r.data_crc, session};
  return crc(&covered, sizeof covered);
}

// A journal as session `session` that began on a file of `original_end`
// bytes and overwrote [offset, offset + old.size()) would leave it; `torn`
// spoils the record's data checksum; the records are written by session
// `records_session` (that of the header, unless given).
std::string Journal(uint32_t version, Checksum crc, uint64_t original_end,
                    const std::vector<std::pair<uint64_t, std::string>>& records, bool torn = false,
                    uint32_t session = 0, int64_t records_session = -1) {
  Header h{};
  std::memcpy(h.magic, "H5RLJNL1", 8);
  h.version = version;
  h.header_size = sizeof h;
  h.original_end = original_end;
  h.fence = 42;
  h.session = version >= 3 ? session : 0;
  std::strcpy(h.token, "0123456789abcdef0123456789abcdef");
  h.crc = crc(&h, offsetof(Header, crc));
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  const uint32_t written_by = records_session < 0 ? session : static_cast<uint32_t>(records_session);
  for (const auto& [offset, old] : records) {
    RecordHeader r{offset, old.size(), crc(old.data(), old.size()) ^ (torn ? 1u : 0u), 0};
    r.header_crc = RecordHeaderCrc(crc, r, version, written_by);
    out.append(reinterpret_cast<const char*>(&r), sizeof r);
    out += old;
  }
  return out;
}

const auto kLocked = [] { return Status::OK(); };

TEST(Crc32cTest, KnownAnswers) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xe3069283u);
  const std::string zeros(32, '\0'), ones(32, '\xff');
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  // RFC 3720, B.4.
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8a9136aau);
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), 0x62a8ab43u);
  EXPECT_EQ(Crc32c(ascending.data(), ascending.size()), 0x46dd794eu);
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
}

TEST(Crc32cTest, AgreesWithTheDefinitionAtEveryLengthAndAlignment) {
  std::mt19937 random(7);
  std::string bytes(4096 + 16, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  for (size_t start = 0; start < 9; ++start)
    for (size_t size : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096})
      ASSERT_EQ(Crc32c(bytes.data() + start, size), BitwiseCrc32c(bytes.data() + start, size))
          << "start " << start << ", size " << size;
}

class JournalFormatTest : public ::testing::Test {
 protected:
  // The file as a session found it, then as it left it (grown, overwritten).
  void SetUp() override {
    before_ = std::string(4000, 'a') + std::string(4000, 'b');
    after_ = before_;
    after_.replace(1000, 500, std::string(500, 'X'));
    after_ += std::string(3000, 'Y');
    WriteAll(path_, after_);
  }
  std::vector<std::pair<uint64_t, std::string>> Saved() const { return {{1000, before_.substr(1000, 500)}}; }
  // Recovery from `journal` gives the file back as the session found it.
  void ExpectRolledBackBy(const std::string& journal) {
    WriteAll(journal_, journal);
    bool rolled_back = false;
    ASSERT_TRUE(UndoJournal::Recover(path_, kLocked, &rolled_back).ok());
    EXPECT_TRUE(rolled_back);
    EXPECT_EQ(ReadAll(path_), before_);
  }

  TempDir dir_;
  const std::string path_ = dir_.File("data.h5");
  const std::string journal_ = UndoJournal::PathFor(path_);
  std::string before_, after_;
};

TEST_F(JournalFormatTest, CurrentVersionIsRolledBack) {
  ExpectRolledBackBy(Journal(3, Crc32c, before_.size(), Saved(), false, /*session=*/5));
  EXPECT_FALSE(std::ifstream(journal_).good()) << "the journal must be gone after its rollback";
}

TEST_F(JournalFormatTest, VersionOneJournalsOfOlderBuildsAreRolledBack) {
  ExpectRolledBackBy(Journal(1, ZlibCrc, before_.size(), Saved()));
}

TEST_F(JournalFormatTest, VersionTwoJournalsOfOlderBuildsAreRolledBack) {
  ExpectRolledBackBy(Journal(2, Crc32c, before_.size(), Saved()));
}

// A holder that committed session 5 and died restarting the journal, after
// the header of session 6 (which began on the file as it is) and before the
// cut: session 5's records are not undone, so its commit stands.
TEST_F(JournalFormatTest, RecordsOfTheSessionBeforeTheHeadersAreNotRolledBack) {
  WriteAll(journal_, Journal(3, Crc32c, after_.size(), Saved(), false, /*session=*/6, /*records_session=*/5));
  bool rolled_back = false;
  ASSERT_TRUE(UndoJournal::Recover(path_, kLocked, &rolled_back).ok());
  EXPECT_EQ(ReadAll(path_), after_) << "the committed session was rolled back";
  EXPECT_FALSE(std::ifstream(journal_).good());
}

TEST_F(JournalFormatTest, ATornRecordEndsTheRollbackThere) {
  // Its overwrite never happened (the record is written before it), so only
  // the growth is undone.
  WriteAll(journal_, Journal(2, Crc32c, before_.size(), Saved(), /*torn=*/true));
  bool rolled_back = false;
  ASSERT_TRUE(UndoJournal::Recover(path_, kLocked, &rolled_back).ok());
  EXPECT_EQ(ReadAll(path_), after_.substr(0, before_.size()));
}

// A session that rewrites the whole file to change 500 bytes of it (HDF5
// rewrites whole sieve buffers) journals those 500 bytes: the journal is
// byte for byte the one above, and rolls the file back. A later write over
// bytes the first left as they were saves them whole, without comparing
// again (a range rewritten over and over is read at most twice).
TEST_F(JournalFormatTest, AWriteSavesOnlyTheBytesItChanges) {
  WriteAll(path_, before_);
  UndoJournal session(path_, "0123456789abcdef0123456789abcdef", 42, /*durable=*/false);
  ASSERT_TRUE(session.Begin().ok());
  Fd file(open(path_.c_str(), O_WRONLY | O_CLOEXEC));
  const UndoJournal::Transfer write = [&](uint64_t offset, uint64_t size, void* buf) {
    return pwrite(file.get(), buf, size, static_cast<off_t>(offset)) == static_cast<ssize_t>(size)
               ? Status::OK()
               : Status::IoError("pwrite");
  };
  ASSERT_TRUE(session.Write(0, after_.size(), after_.data(), write).ok());
  EXPECT_EQ(ReadAll(journal_), Journal(3, Crc32c, before_.size(), Saved()));
  EXPECT_EQ(session.bytes_saved(), 500u);
  std::string again = after_;
  again.replace(7000, 10, std::string(10, 'Z'));
  ASSERT_TRUE(session.Write(6000, 2000, again.data() + 6000, write).ok());
  EXPECT_EQ(session.bytes_saved(), 2500u) << "the second write over [6000, 8000) did not save it whole";
  file.reset();
  ExpectRolledBackBy(ReadAll(journal_));
}

TEST_F(JournalFormatTest, AnUnknownVersionIsRefusedAndKept) {
  const std::string journal = Journal(4, Crc32c, before_.size(), Saved());
  WriteAll(journal_, journal);
  bool rolled_back = false;
  Status s = UndoJournal::Recover(path_, kLocked, &rolled_back);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("version 4"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(journal_), std::string::npos) << s.message();
  EXPECT_FALSE(rolled_back);
  EXPECT_EQ(ReadAll(path_), after_) << "the file must be left alone";
  EXPECT_EQ(ReadAll(journal_), journal) << "the journal must be kept for the build that can read it";
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
