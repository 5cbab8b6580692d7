# The local tree layer's benchmark program (see bench/local_scan.cpp).
add_executable(nh_bench_local_scan ${CMAKE_CURRENT_LIST_DIR}/local_scan.cpp)
target_link_libraries(nh_bench_local_scan PRIVATE nocalhost_core)
