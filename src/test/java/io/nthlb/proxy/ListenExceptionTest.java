package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a failed bind tells the user to do, by the cause the kernel gave. */
class ListenExceptionTest {

    @Test
    void permissionDeniedBelowTheUnprivilegedPortStartNamesCapNetBindServiceAndTheSysctl() {
        // The message a bind(2) that failed with EACCES carries, on NIO (BindException) and epoll (Netty's Errors).
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 80);
        for (Exception cause : new Exception[] {new BindException("Permission denied"),
                new IOException("bind(..) failed with error(-13): Permission denied")}) {
            ListenException e = ListenException.of(address, cause, 1024);
            assertThat(e.getMessage()).isEqualTo("cannot listen on 127.0.0.1:80: ports below 1024 need root or"
                    + " CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep on the java binary,"
                    + " AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit, or sysctl"
                    + " net.ipv4.ip_unprivileged_port_start=80)");
            assertThat(e.address()).isEqualTo(address);
            assertThat(e.getCause()).isSameAs(cause);
        }
        assertThat(ListenException.of(new InetSocketAddress("127.0.0.1", 443), new BindException("Permission denied"), 500)
                .getMessage()).startsWith("cannot listen on 127.0.0.1:443: ports below 500 need root or");
    }

    @Test
    void permissionDeniedForAPortAnyoneMayBindBlamesASecurityPolicy() {
        assertThat(ListenException.of(new InetSocketAddress("127.0.0.1", 80), new BindException("Permission denied"), 0)
                .getMessage()).isEqualTo("cannot listen on 127.0.0.1:80: permission denied, though this host lets"
                        + " anyone bind ports from 0 up (net.ipv4.ip_unprivileged_port_start): a security module"
                        + " (SELinux, AppArmor) or a seccomp policy forbids it");
    }

    @Test
    void theUnprivilegedPortStartIsReadFromTheSysctlOr1024(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("ip_unprivileged_port_start"), "443\n");
        assertThat(ListenException.unprivilegedPortStart(file)).isEqualTo(443);
        assertThat(ListenException.unprivilegedPortStart(dir.resolve("missing"))).isEqualTo(1024);
        // The kernel's own file, which reports a size of 0, against what cat(1) reads from it.
        Path sysctl = Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start");
        Assumptions.assumeTrue(Files.exists(sysctl), "no " + sysctl + " here");
        Process cat = new ProcessBuilder("cat", sysctl.toString()).start();
        int expected = Integer.parseInt(new String(cat.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim());
        assertThat(ListenException.unprivilegedPortStart(sysctl)).isEqualTo(expected);
    }

    @Test
    void anUnknownCauseIsPassedOnAsItIs() {
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 8080);
        assertThat(ListenException.of(address, new BindException("Too many open files")).getMessage())
                .isEqualTo("cannot listen on 127.0.0.1:8080: Too many open files");
    }
}
