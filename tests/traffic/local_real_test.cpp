// Local mode and Service forwards on the test cluster's real node (docs/traffic.md): the
// workload's pod replaced by one that runs only the sync sidecar (the nhsyncd this build
// uploads), whose listeners carry each connection to a server on this machine. A client pod on
// the real node calls the pod IP that the Service's EndpointSlice lists as ready for the port
// (the node has no kube-proxy), as a Service's traffic would arrive.
#include <gtest/gtest.h>
#include <nocalhost.h>

#include <fstream>
#include <sstream>

#include "realpods_fixture.hpp"

using namespace nh::test;

namespace {

void write_all(int fd, const std::string &s) {
    for (size_t off = 0; off < s.size();) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

// The process on the developer's machine that stands in for the workload.
struct LocalApp {
    nh::test::TcpServer http{[](int fd) {
        char buf[4096];
        std::string req;
        ssize_t n;
        while (req.find("\r\n\r\n") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
            req.append(buf, static_cast<size_t>(n));
        write_all(fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nanswered on the developer's machine\n");
    }};
};

std::string read_text(const std::string &path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The object without what the API server changes on every write: what an exact restore keeps.
json comparable(json o) {
    o.erase("status");
    auto &md = o["metadata"];
    for (const char *f : {"resourceVersion", "generation", "managedFields"}) md.erase(f);
    if (md.contains("annotations")) {
        md["annotations"].erase("deployment.kubernetes.io/revision");
        if (md["annotations"].empty()) md.erase("annotations");
    }
    return o;
}

struct DevEvents {
    std::vector<std::pair<std::string, std::string>> seen;  // phase, message
    std::vector<std::string> details;
    const char *cancel_at = nullptr;
    static int cb(int, const char *phase, const char *message, const char *detail, void *p) {
        auto *self = static_cast<DevEvents *>(p);
        self->seen.emplace_back(phase, message);
        if (detail) self->details.emplace_back(detail);
        return self->cancel_at && std::string(phase) == self->cancel_at ? 1 : 0;
    }
    std::string all() const {
        std::string out;
        for (auto &[p, m] : seen) out += p + ": " + m + "\n";
        return out;
    }
};

}  // namespace

class LocalMode : public RealPods {
protected:
    void SetUp() override {
        RealPods::SetUp();
        if (HasFatalFailure() || IsSkipped()) return;
        // The workload names its port; its Service's targetPort names it too. The client pod
        // (the app image: busybox with wget) also serves as a real server behind Service "client".
        std::string web = workload_yaml("deployment", "web");
        auto at = web.find("ports: [{containerPort: 8080}]");
        ASSERT_NE(at, std::string::npos);
        web.replace(at, std::string("ports: [{containerPort: 8080}]").size(),
                    "ports: [{name: http, containerPort: 8080}]");
        apply(web);
        apply("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: " + ns_ +
              "}\nspec:\n  selector: {app: web}\n  ports: [{name: web, port: 80, targetPort: http}]\n");
        apply("apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: " + ns_ +
              ", labels: {app: client}}\nspec:\n" + pod_spec("  "));
        apply("apiVersion: v1\nkind: Service\nmetadata: {name: client-api, namespace: " + ns_ +
              "}\nspec:\n  selector: {app: client}\n  ports: [{name: api, port: 80, targetPort: 8080}]\n");
        ASSERT_TRUE(eventually([&] { return pods_ready("app=web", 1) && pods_ready("app=client", 1); }, 120s))
            << kubectl("-n " + ns_ + " get pods -o wide");
    }

    // How many session records (dev mode's Secrets) the namespace holds.
    size_t session_records() {
        auto j = json::parse(kubectl("-n " + ns_ + " get secrets -l dev.nocalhost.io/role=dev-session -o json"));
        return j["items"].size();
    }

    json workload() { return json::parse(kubectl("-n " + ns_ + " get deployment web -o json")); }

    // The ready endpoint of Service `svc` for its port named `port_name`: "IP:PORT" of `pod`
    // ("" for any pod), as the EndpointSlice lists it; "" while there is none.
    std::string ready_endpoint(const std::string &svc, const std::string &port_name, const std::string &pod = "") {
        auto j = json::parse(kubectl("-n " + ns_ + " get endpointslices -l kubernetes.io/service-name=" + svc + " -o json"),
                             nullptr, false);
        if (!j.is_object()) return "";
        for (const auto &sl : j.value("items", json::array())) {
            int port = 0;
            for (const auto &p : sl.value("ports", json::array()))
                if (p.value("name", "") == port_name) port = p.value("port", 0);
            for (const auto &e : sl.value("endpoints", json::array())) {
                if (!e.value("conditions", json::object()).value("ready", false) || port == 0) continue;
                if (!pod.empty() && e.value("targetRef", json::object()).value("name", "") != pod) continue;
                return e["addresses"][0].get<std::string>() + ":" + std::to_string(port);
            }
        }
        return "";
    }

    // An HTTP GET from the client pod by busybox nc to "IP:PORT": the body, or "<exit N: output>".
    std::string get_from_client(const std::string &address) {
        auto colon = address.rfind(':');
        if (colon == std::string::npos) return "<no address>";
        std::string cmd = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 " + address.substr(0, colon) + " " +
                          address.substr(colon + 1);
        auto [code, out] = exec("pod/client", {"sh", "-c", cmd.c_str()});
        auto body = out.find("\r\n\r\n");
        if (code != 0 || body == std::string::npos) return "<exit " + std::to_string(code) + ": " + out + ">";
        return out.substr(body + 4);
    }

    nh_session *start_local(int mode, const std::vector<std::string> &ports, const std::vector<std::string> &forwards,
                            int *rc, DevEvents *events = nullptr) {
        std::vector<const char *> p, f;
        for (auto &s : ports) p.push_back(s.c_str());
        for (auto &s : forwards) f.push_back(s.c_str());
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.mode = mode;
        o.developer = "real@test";
        o.local = 1;
        o.local_ports = p.data();
        o.local_ports_count = p.size();
        o.forwards = f.empty() ? nullptr : f.data();
        o.forwards_count = f.size();
        o.syncd_dir = NH_SHARE_DIR;
        o.timeout_ms = 180000;
        if (events) {
            o.events = DevEvents::cb;
            o.payload = events;
        }
        nh_session *s = nullptr;
        *rc = nh_dev_start(&s, client_, "deployment", "web", &o);
        return s;
    }

    void end(int mode) {
        nh_dev_end_options eo = NH_DEV_END_OPTIONS_INIT;
        eo.mode = mode;
        eo.developer = "real@test";
        int result = -1;
        ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", &eo), NH_OK) << nh_error_last()->message;
        EXPECT_EQ(result, NH_DEV_END_RESTORED);
    }

    LocalApp local_;
};

TEST_F(LocalMode, ALocalProcessServesTheWorkloadsNamedPortAndEndRestoresItExactly) {
    const json before = comparable(workload());
    const std::string original_pod = pods("app=web")[0]["metadata"]["name"];
    ASSERT_EQ(get_from_client(ready_endpoint("web", "web", original_pod)), "<h1>the app image</h1>\n");

    // Duplicate + local first: a copy that only runs the sidecar; the original keeps serving.
    int rc = 0;
    nh_session *dup = start_local(NH_DEV_MODE_DUPLICATE, {"8080:" + std::to_string(local_.http.port())}, {}, &rc);
    ASSERT_EQ(rc, NH_OK) << nh_error_last()->message;
    const std::string copy = nh_session_workload(dup);
    json copy_pod = json::parse(kubectl("-n " + ns_ + " get pod " + nh_session_pod_name(dup) + " -o json"));
    ASSERT_EQ(copy_pod["spec"]["containers"].size(), 1u) << copy_pod["spec"].dump();
    std::string copy_ip = copy_pod["status"]["podIP"];
    EXPECT_EQ(get_from_client(copy_ip + ":8080"), "answered on the developer's machine\n");
    EXPECT_EQ(get_from_client(ready_endpoint("web", "web", original_pod)), "<h1>the app image</h1>\n");
    EXPECT_EQ(pods("app=web")[0]["metadata"]["name"], original_pod);
    end(NH_DEV_MODE_DUPLICATE);
    nh_session_free(dup);
    ASSERT_FALSE(copy.empty());
    EXPECT_TRUE(eventually(
        [&] { return kubectl("-n " + ns_ + " get deployment " + copy + " --ignore-not-found -o name").empty(); }, 30s));
    EXPECT_EQ(comparable(workload()), before);

    // Replace + local, with the Service "client-api" forwarded here as well.
    const int fwd_port = [] {
        int p = 0;
        ::close(nh::test::listen_loopback(&p));
        return p;
    }();
    DevEvents ev;
    nh_session *s = start_local(NH_DEV_MODE_REPLACE, {"8080:" + std::to_string(local_.http.port())},
                                {"svc/client-api:80:" + std::to_string(fwd_port)}, &rc, &ev);
    ASSERT_EQ(rc, NH_OK) << nh_error_last()->message << "\n" << ev.all();
    const std::string dev_pod_name = nh_session_pod_name(s);
    json pod = json::parse(kubectl("-n " + ns_ + " get pod " + dev_pod_name + " -o json"));
    ASSERT_EQ(pod["spec"]["containers"].size(), 1u);
    EXPECT_EQ(pod["spec"]["containers"][0]["name"], "nh-sync");
    EXPECT_EQ(pod["metadata"]["labels"]["app"], "web");
    // The Service's named targetPort resolves on the sidecar, and the pod is its ready endpoint.
    std::string ep;
    ASSERT_TRUE(eventually([&] { return !(ep = ready_endpoint("web", "web", dev_pod_name)).empty(); }, 30s))
        << kubectl("-n " + ns_ + " get endpointslices -o yaml");
    EXPECT_EQ(ep, pod["status"]["podIP"].get<std::string>() + ":8080");
    EXPECT_EQ(get_from_client(ep), "answered on the developer's machine\n");
    EXPECT_GE(local_.http.accepted(), 2);

    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_session_status(&b, s), NH_OK);
    json st = json::parse(b.ptr);
    nh_buf_dispose(&b);
    EXPECT_EQ(st["local"], true);
    EXPECT_EQ(st["local_ports"], json::parse("[{\"port\":8080,\"local\":" + std::to_string(local_.http.port()) + "}]"));
    ASSERT_EQ(st["service_forwards"].size(), 1u) << st.dump();
    EXPECT_EQ(st["service_forwards"][0]["local_port"], fwd_port);
    // The forward reaches the real server behind the Service; the files name its local end.
    EXPECT_EQ(http_get(fwd_port, "/"), "<h1>the app image</h1>\n");
    const std::string env_file = st.value("env_file", ""), hosts_file = st.value("hosts_file", "");
    EXPECT_NE(read_text(env_file).find("CLIENT_API_SERVICE_HOST=127.0.0.1\nCLIENT_API_SERVICE_PORT=" +
                                       std::to_string(fwd_port) + "\n"),
              std::string::npos)
        << read_text(env_file);
    EXPECT_NE(read_text(hosts_file).find("127.0.0.1 client-api client-api." + ns_ + " "), std::string::npos)
        << read_text(hosts_file);
    EXPECT_NE(ev.all().find(env_file), std::string::npos) << ev.all();
    nh_buf sb = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_status(&sb, client_, "deployment", "web", nullptr), NH_OK);
    EXPECT_EQ(json::parse(sb.ptr)["local"], true);
    nh_buf_dispose(&sb);

    end(NH_DEV_MODE_REPLACE);
    nh_session_free(s);
    EXPECT_FALSE(std::filesystem::exists(env_file));
    EXPECT_EQ(comparable(workload()), before);
    EXPECT_TRUE(eventually([&] { return pods_ready("app=web", 1) && !dev_pod().is_object(); }, 120s))
        << kubectl("-n " + ns_ + " get pods -o wide");
}

TEST_F(LocalMode, AFailedOrCancelledLocalStartLeavesTheWorkloadExactlyAsItWas) {
    const json before = workload();
    int rc = 0;
    // A port the workload does not have: refused before anything changes.
    nh_session *s = start_local(NH_DEV_MODE_REPLACE, {"9999"}, {}, &rc);
    EXPECT_EQ(rc, NH_EINVAL);
    EXPECT_EQ(s, nullptr);
    std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find("9999"), std::string::npos) << msg;
    EXPECT_NE(msg.find("8080"), std::string::npos) << msg;
    EXPECT_EQ(workload()["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
    EXPECT_EQ(session_records(), 0u);

    // Cancelled while waiting for the dev pod: rolled back to exactly the original.
    DevEvents ev;
    ev.cancel_at = "wait";
    s = start_local(NH_DEV_MODE_REPLACE, {"8080:" + std::to_string(local_.http.port())}, {}, &rc, &ev);
    EXPECT_EQ(rc, NH_ECANCELLED) << nh_error_last()->message;
    EXPECT_EQ(s, nullptr);
    EXPECT_EQ(comparable(workload()), comparable(before));
    EXPECT_EQ(session_records(), 0u);
    EXPECT_TRUE(eventually([&] { return pods_ready("app=web", 1); }, 120s)) << kubectl("-n " + ns_ + " get pods -o wide");
}
