#include "tree/watch.hpp"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "common/error.hpp"

namespace nh::tree {

namespace {

struct Item {
    size_t source;
    kube::WatchEvent type;
    json object;
};

// The watch threads' events, and the first error that ended one.
struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Item> items;
    std::exception_ptr error;
    bool stopping = false;

    void wake() {
        std::lock_guard<std::mutex> l(mu);
        stopping = true;
        cv.notify_all();
    }
};

}  // namespace

void watch(kube::Client &client, const Options &opts, const WatchSink &sink) {
    Tree tree(opts, sources_of(opts, client.ns()));
    const auto &sources = tree.sources();
    std::vector<std::string> versions;
    for (size_t i = 0; i < sources.size(); ++i) {
        std::string path = sources[i].path;
        if (!sources[i].label_selector.empty()) path += "?labelSelector=" + kube::url_escape(sources[i].label_selector);
        json l = client.get(path, opts.cancel);
        versions.push_back(l.value("metadata", json::object()).value("resourceVersion", ""));
        tree.reset(i, l.value("items", json::array()));
    }
    json all = tree.entries();
    for (const auto &e : all)
        if (!sink(static_cast<int>(ChangeType::Added), e)) return;
    if (!sink(kSynced, all)) return;

    CancelToken stop;  // ends every watch thread
    Queue q;
    CancelScope forward(opts.cancel, [&stop] { stop.trigger(); });
    CancelScope waker(&stop, [&q] { q.wake(); });
    std::vector<std::thread> threads;
    auto join = [&] {
        stop.trigger();
        for (auto &t : threads)
            if (t.joinable()) t.join();
    };
    try {
        for (size_t i = 0; i < sources.size(); ++i) {
            threads.emplace_back([&, i] {
                kube::WatchParams p;
                p.path = sources[i].path;
                p.resource_version = versions[i];
                p.label_selector = sources[i].label_selector;
                p.cancel = &stop;
                try {
                    client.watch(p, [&](kube::WatchEvent type, const json &obj) {
                        std::lock_guard<std::mutex> l(q.mu);
                        q.items.push_back({i, type, obj});
                        q.cv.notify_all();
                        return !stop.triggered();
                    });
                } catch (const Error &e) {
                    if (e.code() == NH_ECANCELLED && stop.triggered()) return;
                    std::lock_guard<std::mutex> l(q.mu);
                    if (!q.error) q.error = std::current_exception();
                } catch (...) {
                    std::lock_guard<std::mutex> l(q.mu);
                    if (!q.error) q.error = std::current_exception();
                }
                stop.trigger();
            });
        }
        for (;;) {
            std::deque<Item> batch;
            {
                std::unique_lock<std::mutex> l(q.mu);
                q.cv.wait(l, [&] { return !q.items.empty() || q.stopping || q.error; });
                batch.swap(q.items);
                if (batch.empty()) break;
            }
            for (auto &item : batch)
                for (auto &change : tree.apply(item.source, item.type, item.object))
                    if (!sink(static_cast<int>(change.type), change.entry)) {
                        join();
                        return;
                    }
        }
    } catch (...) {
        join();
        throw;
    }
    join();
    if (q.error) std::rethrow_exception(q.error);
    if (cancelled(opts.cancel)) throw Error(NH_ECANCELLED, "tree watch cancelled");
}

}  // namespace nh::tree
