# Shell completions (installed with the tools) and the Debian packages (CPack DEB):
#   libnocalhost<ABI>   the shared library and the static nhsyncd binaries it uploads
#   libnocalhost-dev    header, .so link, pkg-config and CMake package files
#   nocalhost-tools     nh (with its bash, zsh and fish completions) and nhsyncd
# scripts/package deb configures a build for them (NOCALHOST_DEB=ON, prefix /usr) and runs
# cpack; docs/install.md says what lintian reports and why.

option(NOCALHOST_DEB "Install the Debian package layout: no RPATH, /usr/share/doc/<package> files, lintian overrides" OFF)
set(NOCALHOST_DEB_MAINTAINER "libnocalhost maintainers <libnocalhost@nocalhost.dev>" CACHE STRING
    "Maintainer field of the Debian packages")

set(_nh_pkg_lib libnocalhost${NH_ABI})
set(_nh_pkg_dev libnocalhost-dev)
set(_nh_pkg_tools nocalhost-tools)

# `nh completion SHELL`, written at build time and installed where each shell looks for it.
if(TARGET nh)
  set(_nh_comp ${PROJECT_BINARY_DIR}/completions)
  add_custom_command(OUTPUT ${_nh_comp}/nh ${_nh_comp}/_nh ${_nh_comp}/nh.fish
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_nh_comp}
    COMMAND sh -c "\"$0\" completion bash > \"$1/nh\" && \"$0\" completion zsh > \"$1/_nh\" && \"$0\" completion fish > \"$1/nh.fish\""
            $<TARGET_FILE:nh> ${_nh_comp}
    DEPENDS nh
    COMMENT "nh completion bash|zsh|fish"
    VERBATIM)
  add_custom_target(nh-completions ALL DEPENDS ${_nh_comp}/nh ${_nh_comp}/_nh ${_nh_comp}/nh.fish)
  install(FILES ${_nh_comp}/nh DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT tools)
  install(FILES ${_nh_comp}/_nh DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions COMPONENT tools)
  install(FILES ${_nh_comp}/nh.fish DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d COMPONENT tools)
endif()

if(NOT CMAKE_SOURCE_DIR STREQUAL PROJECT_SOURCE_DIR)
  return()  # built inside a binding: no packages
endif()

if(NOCALHOST_DEB)
  # Debian's copyright and changelog files per package, and the lintian overrides, each
  # explained in the override file itself.
  string(TIMESTAMP _nh_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/changelog.in ${PROJECT_BINARY_DIR}/debian/changelog @ONLY)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/debian/changelog.gz
    COMMAND gzip -9nf -k ${PROJECT_BINARY_DIR}/debian/changelog
    DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog VERBATIM)
  add_custom_target(nh-deb-changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog.gz)
  foreach(comp lib dev tools)
    set(_pkg ${_nh_pkg_${comp}})
    install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/copyright ${PROJECT_BINARY_DIR}/debian/changelog.gz
      DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_pkg} COMPONENT ${comp})
    if(EXISTS ${PROJECT_SOURCE_DIR}/cmake/debian/${comp}.lintian-overrides)
      install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/${comp}.lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides COMPONENT ${comp} RENAME ${_pkg})
    endif()
  endforeach()
endif()

set(CPACK_PACKAGE_NAME nocalhost)
set(CPACK_PACKAGE_VENDOR libnocalhost)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${NOCALHOST_DEB_MAINTAINER}")
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev)
if(TARGET nh)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()
# The packages hold what `cmake --install` puts under the configured prefix (/usr for them).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Dependencies from the ELF files (dpkg-shlibdeps); nh's libnocalhost is this build's, found
# in its lib/ and named by the explicit dependency below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/lib)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(_nh_same_lib "${_nh_pkg_lib} (= ${PROJECT_VERSION})")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME ${_nh_pkg_lib})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIB_DESCRIPTION "Kubernetes dev-mode engine with a C ABI (shared library)
libnocalhost puts Kubernetes workloads into dev mode (one replica, a dev image,
a file-sync sidecar, port-forwards, a terminal) and restores them exactly,
behind a stable C ABI that IDE plugins, scripts and tools link directly.
.
This package holds the shared library and the static nhsyncd sync servers
(amd64, arm64) that it uploads into a dev pod's sidecar.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME ${_nh_pkg_dev})
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_nh_same_lib}")
set(CPACK_DEBIAN_DEV_DESCRIPTION "Kubernetes dev-mode engine with a C ABI (development files)
libnocalhost puts Kubernetes workloads into dev mode and restores them exactly,
behind a stable C ABI.
.
This package holds the header nocalhost.h and the files to build against the
library: pkg-config (nocalhost) and CMake (find_package(nocalhost)).")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME ${_nh_pkg_tools})
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${_nh_same_lib}")
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "Kubernetes dev-mode command line (nh) and sync server (nhsyncd)
nh puts Kubernetes workloads into dev mode and brings them back exactly, runs
commands and terminals in them, forwards ports and syncs local files, with
kubectl's flags and conventions. nhsyncd is the file-sync server that runs in
a dev pod's sidecar. Shell completion for bash, zsh and fish is included.")

# dpkg's ldconfig trigger instead of the postinst and postrm CPack writes.
set(CPACK_POST_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/debian/ldconfig-trigger.cmake)

include(CPack)
