# cmake/install.cmake: what `cmake --install` puts under the prefix (the
# directories are in cmake/layout.cmake):
#
#   lib/libh5fd_redislock.so          the plugin, which is also the library of
#                                     the typed API (H5FDredislock.h)
#   lib/h5redislock_tls.so            TLS for rediss://, loaded when needed
#   lib/plugin/libh5fd_redislock.so   a symlink to it, for HDF5_PLUGIN_PATH
#   include/H5FDredislock.h
#   lib/cmake/h5redislock/            find_package(h5redislock) gives the
#                                     target h5redislock::h5fd_redislock
#   lib/pkgconfig/h5redislock.pc      pkg-config h5redislock
#   bin/h5redislock                   finds the plugin at ../lib/plugin
#
# HDF5 looks for plugins in HDF5_PLUGIN_PATH, else in a directory compiled
# into it (H5_DEFAULT_PLUGINDIR, /usr/local/hdf5/lib/plugin unless HDF5 was
# configured otherwise): programs not started by `h5redislock run` need
# HDF5_PLUGIN_PATH=<prefix>/lib/plugin unless that is HDF5's.
include(${CMAKE_CURRENT_LIST_DIR}/layout.cmake)
include(CMakePackageConfigHelpers)

# Installed, the library and the program find HDF5 (which is not ours to
# install) where they were linked against it, without LD_LIBRARY_PATH.
set_target_properties(h5fd_redislock h5redislock PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)

install(TARGETS h5fd_redislock LIBRARY DESTINATION ${H5REDISLOCK_INSTALL_LIBDIR})
# Beside the library's real file, where the driver looks for it (tls_library.h).
if(TARGET h5redislock_tls)
  install(TARGETS h5redislock_tls LIBRARY DESTINATION ${H5REDISLOCK_INSTALL_LIBDIR})
endif()
install(TARGETS h5redislock RUNTIME DESTINATION ${H5REDISLOCK_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/vfd/include/H5FDredislock.h DESTINATION ${H5REDISLOCK_INSTALL_INCLUDEDIR})

# The plugin directory holds a symlink, not a copy: a program that links the
# typed API and also has HDF5 load the plugin then gets one copy of the
# library (dlopen recognises the same file), and so one lock table.
set(H5REDISLOCK_LIBRARY_FILE ${CMAKE_SHARED_LIBRARY_PREFIX}h5fd_redislock${CMAKE_SHARED_LIBRARY_SUFFIX})
file(RELATIVE_PATH plugin_link_target
     /prefix/${H5REDISLOCK_INSTALL_PLUGINDIR} /prefix/${H5REDISLOCK_INSTALL_LIBDIR}/${H5REDISLOCK_LIBRARY_FILE})
install(CODE "
  set(link \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${H5REDISLOCK_INSTALL_PLUGINDIR}/${H5REDISLOCK_LIBRARY_FILE}\")
  message(STATUS \"Installing: \${link} -> ${plugin_link_target}\")
  get_filename_component(dir \"\${link}\" DIRECTORY)
  file(MAKE_DIRECTORY \"\${dir}\")
  file(CREATE_LINK \"${plugin_link_target}\" \"\${link}\" SYMBOLIC)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${link}\")
")

# find_package(h5redislock): an imported target written by hand rather than
# install(EXPORT), which would also export our HDF5 wrapper with this
# machine's paths; the package finds HDF5 itself, where we found it unless
# the user says otherwise.
if(HDF5_ROOT)
  set(H5REDISLOCK_HDF5_ROOT ${HDF5_ROOT})
else()
  list(GET HDF5_INCLUDE_DIRS 0 hdf5_include_dir)
  get_filename_component(H5REDISLOCK_HDF5_ROOT ${hdf5_include_dir} DIRECTORY)
endif()
string(REGEX MATCH "^[0-9]+\\.[0-9]+" H5REDISLOCK_HDF5_SERIES ${HDF5_VERSION})  # any 1.14.x
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/h5redislockConfig.cmake.in
  ${PROJECT_BINARY_DIR}/h5redislockConfig.cmake
  INSTALL_DESTINATION ${H5REDISLOCK_INSTALL_CMAKEDIR}
  PATH_VARS H5REDISLOCK_INSTALL_LIBDIR H5REDISLOCK_INSTALL_INCLUDEDIR H5REDISLOCK_INSTALL_PLUGINDIR
            H5REDISLOCK_INSTALL_BINDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/h5redislockConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/h5redislockConfig.cmake ${PROJECT_BINARY_DIR}/h5redislockConfigVersion.cmake
        DESTINATION ${H5REDISLOCK_INSTALL_CMAKEDIR})

# pkg-config h5redislock, relocatable: the prefix is found from the .pc file.
file(RELATIVE_PATH H5REDISLOCK_PREFIX_FROM_PKGCONFIGDIR /prefix/${H5REDISLOCK_INSTALL_PKGCONFIGDIR} /prefix)
string(REGEX REPLACE "/$" "" H5REDISLOCK_PREFIX_FROM_PKGCONFIGDIR ${H5REDISLOCK_PREFIX_FROM_PKGCONFIGDIR})
configure_file(${CMAKE_CURRENT_LIST_DIR}/h5redislock.pc.in ${PROJECT_BINARY_DIR}/h5redislock.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/h5redislock.pc DESTINATION ${H5REDISLOCK_INSTALL_PKGCONFIGDIR})
