// The C++ layer the Python and Node bindings share (bindings/common/nocalhost.hpp),
// over the shared library and a loopback API server.
#include "nocalhost.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <type_traits>

#include "loopback_server.hpp"

using namespace std::chrono_literals;
namespace nhx = nocalhost;
using nh::test::HttpRequest;
using nh::test::HttpResponse;
using nh::test::LoopbackServer;

namespace {

// A client of `server` through a kubeconfig file in `dir`.
nhx::ClientHandle client_of(const LoopbackServer &server, const nh::test::TempDir &dir) {
    std::string path = dir / "config";
    nh::test::write_file(path, nh::test::plain_kubeconfig(server.url(), "{}"));
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    o.kubeconfig = path.c_str();
    o.max_retries = 0;
    nhx::ClientHandle c;
    nhx::check(nh_client_new(c.out(), &o));
    return c;
}

int g_frees = 0;
void count_free(int *p) {
    ++g_frees;
    delete p;
}
using Counted = nhx::Unique<int, count_free>;

}  // namespace

TEST(BindingsCpp, AFailedCallThrowsItsCodeMessageStatusAndReason) {
    LoopbackServer server([](const HttpRequest &) {
        HttpResponse r;
        r.status = 404;
        r.headers = {{"Content-Type", "application/json"}};
        r.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server could not find)"
                 R"( the requested resource","reason":"NotFound","code":404})";
        return r;
    });
    nh::test::TempDir dir;
    auto client = client_of(server, dir);
    nhx::Buffer out;
    try {
        nhx::check(nh_client_server_version(out.out(), client.get(), nullptr));
        FAIL() << "no exception";
    } catch (const nhx::Error &e) {
        EXPECT_EQ(e.code(), NH_ENOTFOUND);
        EXPECT_EQ(e.http_status(), 404);
        EXPECT_EQ(e.reason(), "NotFound");
        EXPECT_NE(e.message().find("could not find the requested resource"), std::string::npos) << e.what();
    }
    // An argument error is thrown with the library's message too.
    try {
        nhx::check(nh_cancel_new(nullptr));
        FAIL() << "no exception";
    } catch (const nhx::Error &e) {
        EXPECT_EQ(e.code(), NH_EINVAL);
        EXPECT_STREQ(e.what(), "invalid argument: out");
        EXPECT_EQ(e.http_status(), 0);
    }
    EXPECT_EQ(nhx::check(NH_OK), NH_OK);
}

TEST(BindingsCpp, HandlesAreMoveOnlyAndFreedExactlyOnce) {
    static_assert(!std::is_copy_constructible_v<nhx::ClientHandle>);
    static_assert(!std::is_copy_assignable_v<nhx::SessionHandle>);
    static_assert(std::is_nothrow_move_constructible_v<nhx::ExecHandle>);
    g_frees = 0;
    {
        Counted a(new int(1));
        Counted b(std::move(a));
        EXPECT_FALSE(a);
        Counted c;
        c = std::move(b);
        c = std::move(c);  // self-move keeps it
        EXPECT_EQ(*c.get(), 1);
        EXPECT_EQ(g_frees, 0);
        Counted d(new int(2));
        d = std::move(c);  // frees d's old value once
        EXPECT_EQ(g_frees, 1);
        auto shared = d.share();
        EXPECT_FALSE(d);
        auto again = shared;
        shared.reset();
        EXPECT_EQ(g_frees, 1);
    }
    EXPECT_EQ(g_frees, 2);
    // Real handles (ASan reports a double free): out() frees what it held.
    nhx::CancelHandle t;
    nhx::check(nh_cancel_new(t.out()));
    nhx::check(nh_cancel_new(t.out()));
    nhx::CancelHandle u(std::move(t));
    EXPECT_NE(u.get(), nullptr);
}

TEST(BindingsCpp, OptionBuildersKeepTheirStringsAlive) {
    nhx::DevStartOptions built;
    {
        nhx::DevStartOptions o;
        std::string image = "golang:1.22-" + std::string(40, 'x');  // not a short string
        o.image = image;
        o.developer = std::string("dev@") + "host";
        o.env = std::vector<std::string>{"A=" + std::string(30, 'a'), "B=b"};
        o.patches_json = R"([{"type":"merge","patch":{"metadata":{"labels":{"a":"b"}}}}])";
        o.local_dir = "/src";
        o.sync.emplace();
        o.sync->ignore.push_back("*.o");
        o.sync->state_dir = "/state";
        image.assign(image.size(), 'z');
        built = std::move(o);  // the builder moves; the C struct is made afterwards
    }
    nhx::DevStartOptions copy = built;
    for (nhx::DevStartOptions *o : {&built, &copy}) {
        nh_dev_start_options &c = o->c(nullptr);
        EXPECT_EQ(c.version, unsigned(NH_DEV_START_OPTIONS_VERSION));
        EXPECT_STREQ(c.image, ("golang:1.22-" + std::string(40, 'x')).c_str());
        EXPECT_STREQ(c.developer, "dev@host");
        EXPECT_EQ(c.env_count, 2u);
        EXPECT_STREQ(c.env[0], ("A=" + std::string(30, 'a')).c_str());
        EXPECT_EQ(c.env[0], o->env.values()[0].c_str());  // its own copy, not the other builder's
        EXPECT_EQ(c.env[2], nullptr);
        EXPECT_STREQ(c.local_dir, "/src");
        ASSERT_NE(c.sync_options, nullptr);
        EXPECT_EQ(c.sync_options->ignore_patterns_count, 1u);
        EXPECT_STREQ(c.sync_options->ignore_patterns[0], "*.o");
        EXPECT_STREQ(c.sync_options->state_dir, "/state");
        EXPECT_EQ(c.namespace_name, nullptr);
        EXPECT_EQ(c.rollback_on_failure, 1);
    }
    // Without a local dir no sync options are passed; an empty list is NULL.
    nhx::DevStartOptions bare;
    bare.sync.emplace();
    EXPECT_EQ(bare.c(nullptr).sync_options, nullptr);
    EXPECT_EQ(bare.c(nullptr).env, nullptr);
    nhx::Strings argv(std::vector<std::string>{"sh", "-c", "true"});
    nhx::Strings moved(std::move(argv));
    EXPECT_STREQ(moved.argv()[2], "true");
    EXPECT_EQ(moved.argv()[3], nullptr);
    EXPECT_EQ(argv.argv()[0], nullptr);  // the moved-from list is empty, still terminated
    // The names bindings read.
    EXPECT_EQ(nhx::camel_case("lease_duration_s"), "leaseDurationS");
    EXPECT_EQ(nhx::camel_case("namespace"), "namespace");
}

TEST(BindingsCpp, AChildCancellerStopsWithItsParent) {
    auto client_close = nhx::Canceller::make();
    auto stream = nhx::Canceller::make(client_close);  // a stream under its client
    auto caller = nhx::Canceller::make();
    {
        nhx::CallToken t(stream, caller);
        stream->trigger();  // the stream alone: the client and the caller stay untouched
        EXPECT_TRUE(t.triggered());
        EXPECT_FALSE(client_close->triggered());
        EXPECT_FALSE(caller->triggered());
    }
    stream = nhx::Canceller::make(client_close);
    nhx::CallToken a(stream), b(nullptr, caller);
    EXPECT_FALSE(a.triggered());
    caller->trigger();
    EXPECT_TRUE(b.triggered());
    EXPECT_FALSE(a.triggered());
    client_close->trigger();
    EXPECT_TRUE(stream->triggered());
    EXPECT_TRUE(a.triggered());
    // Made after the trigger: triggered at once; after reset() new calls run.
    EXPECT_TRUE(nhx::CallToken(stream).triggered());
    EXPECT_TRUE(nhx::CallToken(nullptr, caller).triggered());
    caller->reset();
    EXPECT_FALSE(nhx::CallToken(nullptr, caller).triggered());
}

TEST(BindingsCpp, ClosingASharedHandleCancelsItsCallInFlight) {
    std::atomic<bool> answer{false};
    LoopbackServer server([&](const HttpRequest &) {
        while (!answer) std::this_thread::sleep_for(10ms);  // until the test is over
        HttpResponse r;
        r.drop = true;
        return r;
    });
    nh::test::TempDir dir;
    nhx::Shared<nh_client, nh_client_free> handle;
    handle.reset(client_of(server, dir));
    auto client = handle.get("client");
    nhx::CallToken token(handle.inflight());
    std::thread closer([&] {
        std::this_thread::sleep_for(200ms);
        handle.close();
    });
    auto start = std::chrono::steady_clock::now();
    nhx::Buffer out;
    int rc = nh_client_server_version(out.out(), client.get(), token.get());
    closer.join();
    EXPECT_EQ(rc, NH_ECANCELLED);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_TRUE(handle.closed());
    try {
        handle.get("client");
        FAIL() << "no exception";
    } catch (const nhx::Error &e) {
        EXPECT_EQ(e.code(), NH_ESTATE);
        EXPECT_STREQ(e.what(), "client is closed");
    }
    EXPECT_EQ(handle.close(), nullptr);  // idempotent
    answer = true;
}
