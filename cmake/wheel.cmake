# cmake/wheel.cmake: the build of the Python wheel (pyproject.toml, built by
# scikit-build-core with H5REDISLOCK_PYTHON_WHEEL=ON). Into the h5redislock
# package it installs:
#
#   plugins/libh5fd_redislock_dl.so   the driver, linked against no libhdf5:
#                                     it binds to the libhdf5 of the Python
#                                     package that loads it (h5py, netCDF4,
#                                     PyTables; python/wheel_plugin)
#   plugins/h5redislock_tls.so        TLS for rediss://, on the system's
#                                     libssl.so.3 (vfd/redis/tls_library.h)
#   bin/h5redislock                   the command, which the console script
#                                     of the same name runs
#
# What the build needs, as h5py's sdist needs an installed HDF5:
#   HDF5 1.14's headers   any 1.14.x installation (only its headers are
#                         used): HDF5_DIR=<prefix>, or in CMAKE_PREFIX_PATH
#   hiredis >= 1.0        installed with its TLS library (hiredis_ssl),
#                         static and position-independent: CMAKE_PREFIX_PATH
#                         (scripts/bootstrap builds hiredis 1.2.0 so)
#   OpenSSL 3's headers   for h5redislock_tls.so (without them, no rediss://)
#   zlib, a C++17 compiler, CMake >= 3.20
include(${CMAKE_CURRENT_LIST_DIR}/layout.cmake)

# HDF5's headers only: the oldest ABI the plugin serves (hdf5_dynamic.cc).
find_path(H5REDISLOCK_HDF5_INCLUDE_DIR H5FDdevelop.h
  HINTS ENV HDF5_DIR PATH_SUFFIXES include include/hdf5/serial)
if(NOT H5REDISLOCK_HDF5_INCLUDE_DIR)
  message(FATAL_ERROR "The h5redislock wheel compiles against the headers of HDF5 1.14: install HDF5 1.14 "
                      "(e.g. Debian 13's libhdf5-dev) and set HDF5_DIR to its prefix")
endif()
file(STRINGS ${H5REDISLOCK_HDF5_INCLUDE_DIR}/H5public.h hdf5_version_lines REGEX "^#define H5_VERS_(MAJOR|MINOR) ")
string(REGEX REPLACE ".*MAJOR +([0-9]+).*MINOR +([0-9]+).*" "\\1.\\2" hdf5_series "${hdf5_version_lines}")
if(NOT hdf5_series STREQUAL "1.14")
  message(FATAL_ERROR "${H5REDISLOCK_HDF5_INCLUDE_DIR} holds HDF5 ${hdf5_series}'s headers; the h5redislock wheel "
                      "compiles against HDF5 1.14's (set HDF5_DIR to an HDF5 1.14 installation)")
endif()
add_library(h5redislock_hdf5 INTERFACE)
target_include_directories(h5redislock_hdf5 INTERFACE ${H5REDISLOCK_HDF5_INCLUDE_DIR})

find_package(hiredis 1.0 CONFIG)
if(NOT hiredis_FOUND)
  message(FATAL_ERROR "The h5redislock wheel needs hiredis >= 1.0 (built static, position-independent, with its "
                      "TLS library): give its prefix in CMAKE_PREFIX_PATH (scripts/bootstrap builds hiredis 1.2.0)")
endif()
find_package(hiredis_ssl CONFIG)
find_package(OpenSSL 3)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)

add_subdirectory(vfd)
add_subdirectory(python/wheel_plugin)
add_subdirectory(cli)

install(TARGETS h5fd_redislock_dl LIBRARY DESTINATION h5redislock/plugins)
if(TARGET h5redislock_tls)
  install(TARGETS h5redislock_tls LIBRARY DESTINATION h5redislock/plugins)
endif()
install(TARGETS h5redislock RUNTIME DESTINATION h5redislock/bin)
