# cmake/layout.cmake: where `cmake --install` puts things, relative to the
# prefix. Both the install rules (cmake/install.cmake) and the h5redislock
# program (which finds the plugin relative to itself) read it. It only sets
# variables, in the including directory's scope, so each includes it.

set(H5REDISLOCK_INSTALL_BINDIR bin)
set(H5REDISLOCK_INSTALL_LIBDIR lib)
# HDF5 names <its prefix>/lib/plugin as its default plugin directory; under
# our own prefix the same shape keeps HDF5_PLUGIN_PATH easy to guess.
set(H5REDISLOCK_INSTALL_PLUGINDIR lib/plugin)
set(H5REDISLOCK_INSTALL_INCLUDEDIR include)
set(H5REDISLOCK_INSTALL_CMAKEDIR lib/cmake/h5redislock)
set(H5REDISLOCK_INSTALL_PKGCONFIGDIR lib/pkgconfig)

# The plugin directory as seen from the program's directory ("../lib/plugin").
file(RELATIVE_PATH H5REDISLOCK_PLUGINDIR_FROM_BINDIR
     /prefix/${H5REDISLOCK_INSTALL_BINDIR} /prefix/${H5REDISLOCK_INSTALL_PLUGINDIR})
