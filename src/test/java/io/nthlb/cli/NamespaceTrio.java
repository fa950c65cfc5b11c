package io.nthlb.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Three network namespaces of a test's own, a client, a front host and a backend host, each with its loopback
 * up, linked client to front and front to backend by veth pairs made with both ends inside them (nothing
 * touches the host's); addresses and routes are the test's to give. {@link #close} stops the processes the test
 * started in them and deletes them. Names carry the test's tag and pid, so that runs never share one.
 */
final class NamespaceTrio implements AutoCloseable {

    final String client;
    final String front;
    final String backend;
    /** The interfaces: the client's, the front's toward the client, the front's toward the backend, the backend's. */
    final String clientLink;
    final String frontToClient;
    final String frontToBackend;
    final String backendLink;
    private final List<Process> processes = new ArrayList<>();

    /** {@code tag}: a few letters naming the test; with the pid it must stay under 10 characters (interface names). */
    NamespaceTrio(String tag, String backendName) {
        String id = tag + ProcessHandle.current().pid();
        this.client = "nthlb-" + id + "-client";
        this.front = "nthlb-" + id + "-front";
        this.backend = "nthlb-" + id + "-" + backendName;
        this.clientLink = "c" + id;
        this.frontToClient = "f" + id;
        this.frontToBackend = "a" + id;
        this.backendLink = "b" + id;
    }

    /** Makes the namespaces and links; false when {@code ip netns} cannot make one here. */
    boolean create() throws Exception {
        if (!run(false, "ip", "netns", "add", client)) {
            return false;
        }
        check("ip", "netns", "add", front);
        check("ip", "netns", "add", backend);
        check("ip", "link", "add", clientLink, "netns", client, "type", "veth", "peer", "name", frontToClient,
                "netns", front);
        check("ip", "link", "add", frontToBackend, "netns", front, "type", "veth", "peer", "name", backendLink,
                "netns", backend);
        for (String ns : List.of(client, front, backend)) {
            check("ip", "-n", ns, "link", "set", "lo", "up");
        }
        return true;
    }

    /** {@code command} to run in namespace {@code ns}. */
    static ProcessBuilder in(String ns, String... command) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        all.addAll(List.of(command));
        return new ProcessBuilder(all);
    }

    /** Starts {@code builder}'s process, to be stopped by {@link #close} (the last started first). */
    Process start(ProcessBuilder builder) throws IOException {
        Process p = builder.start();
        processes.add(0, p);
        return p;
    }

    @Override
    public void close() throws Exception {
        for (Process p : processes) {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        for (String ns : List.of(client, front, backend)) {
            run(false, "ip", "netns", "del", ns);
        }
    }

    /** Runs {@code command}; its output, or an assertion error saying what failed. */
    static String check(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError("failed: " + String.join(" ", command) + ": " + out);
        }
        return out;
    }

    /** Runs {@code command}: whether it succeeded; with {@code showErrors}, what it said when it did not. */
    static boolean run(boolean showErrors, String... command) throws InterruptedException {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            boolean ok = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
            if (!ok && showErrors) {
                System.err.println(String.join(" ", command) + ": " + out);
            }
            return ok;
        } catch (IOException e) {
            return false;
        }
    }
}
