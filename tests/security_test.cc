// security_test.cc: Redis with passwords, ACL users and TLS, on certificates
// made by the test; and secrets that never show.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "hdf5_files.h"
#include "locked_file_test.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class SecurityTest : public LockedFileTest {
 protected:

  // Creates `name` and opens it again read-only through `config`; on failure
  // the error text is in error_.
  bool CreateAndRead(const std::string& config, const std::string& name = "f.h5") {
    const std::string path = dir_.File(name);
    hid_t fapl = LockedFapl(config);
    bool ok = CreateFileWithDatasets(path, fapl, {"x"}, 4, H5T_STD_I32LE);
    if (ok) {
      hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
      ok = f >= 0;
      if (ok) H5Fclose(f);
    }
    error_ = ok ? "" : ErrorText();
    H5Pclose(fapl);
    return ok;
  }
  static void Run(const std::string& command) { ASSERT_EQ(system(command.c_str()), 0) << command; }
};

TEST_F(SecurityTest, AclUserWithOnlyTheDriversCommands) {
  RedisServer redis;
  // Exactly what the scripts and the client use, on our prefix only.
  SetDriverAclUser(redis, "h5user", "user-pass-789");
  std::string pw = dir_.File("pw");
  std::ofstream(pw) << "user-pass-789\n";
  // Without CONFIG GET, the driver cannot tell that only this host reaches
  // the server: its grants wait until it has been up for a lease (README,
  // "Redis faults"), here a short one.
  EXPECT_TRUE(CreateAndRead("url=" + redis.url() + ";user=h5user;lease=2;password_file=" + pw)) << error_;

  std::ofstream(pw, std::ios::trunc) << "not-the-pass\n";
  EXPECT_FALSE(CreateAndRead("url=" + redis.url() + ";user=h5user;password_file=" + pw, "g.h5"));
  EXPECT_NE(error_.find("refused the credentials of user 'h5user'"), std::string::npos) << error_;
  EXPECT_EQ(error_.find("not-the-pass"), std::string::npos) << error_;

  // A user that may not touch our keys gets a clear error, not a hang.
  redis.Command({"ACL", "SETUSER", "other", "on", ">other-pass", "~elsewhere:*", "+@all"});
  setenv("H5REDISLOCK_PASSWORD", "other-pass", 1);
  EXPECT_FALSE(CreateAndRead("url=" + redis.url() + ";user=other", "h.h5"));
  unsetenv("H5REDISLOCK_PASSWORD");
  EXPECT_NE(error_.find("may not run the lock scripts"), std::string::npos) << error_;
  EXPECT_EQ(error_.find("other-pass"), std::string::npos) << error_;
}

TEST_F(SecurityTest, PasswordFromUrlAndEnvironment) {
  RedisServer redis({"--requirepass", "p@ss;word"}, /*tcp=*/true);
  // In a url, '@' and ';' are percent-escaped.
  std::string url = "redis://:p%40ss%3Bword@127.0.0.1:" + std::to_string(redis.port()) + "/0";
  EXPECT_TRUE(CreateAndRead("url=" + url)) << error_;
  setenv("H5REDISLOCK_PASSWORD", "p@ss;word", 1);
  EXPECT_TRUE(CreateAndRead("url=" + redis.tcp_url(), "env.h5")) << error_;
  unsetenv("H5REDISLOCK_PASSWORD");
  EXPECT_FALSE(CreateAndRead("url=redis://:wrong@127.0.0.1:" + std::to_string(redis.port()), "bad.h5"));
  EXPECT_EQ(error_.find("wrong"), std::string::npos) << "the password leaked: " << error_;
}

class TlsTest : public SecurityTest {
 protected:
  void SetUp() override {
    const std::string d = dir_.path();
    // A CA, a server certificate for localhost/127.0.0.1, a client certificate.
    Run("cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
        "-subj /CN=h5redislock-test-ca >/dev/null 2>&1");
    Run("cd " + d + " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san && "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost >/dev/null 2>&1 && "
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
        "-extfile san >/dev/null 2>&1");
    Run("cd " + d + " && openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client "
        ">/dev/null 2>&1 && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
        "-out client.crt -days 2 >/dev/null 2>&1");
    port_ = FreeTcpPort();
  }
  std::unique_ptr<RedisServer> StartTls(bool require_client_cert) {
    // On loopback only: a server that only this host reaches has its first
    // grants used after 0.5 s rather than a lease (README, "Redis faults").
    return std::make_unique<RedisServer>(std::vector<std::string>{
        "--tls-port", std::to_string(port_), "--tls-cert-file", dir_.File("server.crt"), "--tls-key-file",
        dir_.File("server.key"), "--tls-ca-cert-file", dir_.File("ca.crt"), "--tls-auth-clients",
        require_client_cert ? "yes" : "no", "--bind", "127.0.0.1", "-::1"});
  }
  std::string Url() const { return "url=rediss://localhost:" + std::to_string(port_); }

  int port_ = 0;
};

TEST_F(TlsTest, VerifiedServer) {
  auto redis = StartTls(false);
  EXPECT_TRUE(CreateAndRead(Url() + ";tls_ca=" + dir_.File("ca.crt"))) << error_;
  // Not signed by a CA the system trusts: refused, clearly.
  EXPECT_FALSE(CreateAndRead(Url(), "untrusted.h5"));
  EXPECT_NE(error_.find("TLS"), std::string::npos) << error_;
}

TEST_F(TlsTest, ClientCertificate) {
  auto redis = StartTls(true);
  EXPECT_TRUE(CreateAndRead(Url() + ";tls_ca=" + dir_.File("ca.crt") + ";tls_cert=" + dir_.File("client.crt") +
                            ";tls_key=" + dir_.File("client.key")))
      << error_;
  EXPECT_FALSE(CreateAndRead(Url() + ";tls_ca=" + dir_.File("ca.crt"), "nocert.h5"));
  EXPECT_NE(error_.find("rediss://localhost"), std::string::npos) << error_;
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
