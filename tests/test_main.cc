// The tests' main: points HDF5 at the plugin built with them before HDF5
// starts, since HDF5 reads HDF5_PLUGIN_PATH once.
#include <gtest/gtest.h>

#include "test_support.h"

int main(int argc, char** argv) {
  h5redislock::testing::UseBuiltPlugin();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
