#include "common/cancel.hpp"
#include "common/error.hpp"

#include <gtest/gtest.h>

#include <thread>

TEST(Cancel, TriggerWakesSleepersAndCallsWakers) {
    nh::CancelToken t;
    int woken = 0;
    {
        nh::CancelScope scope(&t, [&] { ++woken; });
        std::thread th([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            t.trigger();
        });
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_TRUE(t.sleep_for(std::chrono::seconds(5)));
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
        th.join();
    }
    EXPECT_EQ(woken, 1);
    t.trigger();  // idempotent
    EXPECT_EQ(woken, 1);
    EXPECT_THROW(t.check(), nh::Error);
    t.reset();
    EXPECT_NO_THROW(t.check());
}
