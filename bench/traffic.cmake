# Reverse forwarding against port-forward on the test cluster's real node: bench/traffic/.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/traffic/CMakeLists.txt AND TARGET nhsyncd-binaries)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/traffic ${CMAKE_CURRENT_BINARY_DIR}/traffic)
endif()
