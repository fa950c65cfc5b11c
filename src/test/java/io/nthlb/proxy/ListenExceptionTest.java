package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** What a failed bind tells the user to do, by the cause the kernel gave. */
class ListenExceptionTest {

    @Test
    void permissionDeniedNamesCapNetBindService() {
        // The message a bind(2) that failed with EACCES carries, on NIO (BindException) and epoll (Netty's Errors).
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 80);
        for (Exception cause : new Exception[] {new BindException("Permission denied"),
                new IOException("bind(..) failed with error(-13): Permission denied")}) {
            ListenException e = ListenException.of(address, cause);
            assertThat(e.getMessage()).isEqualTo("cannot listen on 127.0.0.1:80: ports below 1024 need root or"
                    + " CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep on the java binary, or"
                    + " AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit)");
            assertThat(e.address()).isEqualTo(address);
            assertThat(e.getCause()).isSameAs(cause);
        }
    }

    @Test
    void anUnknownCauseIsPassedOnAsItIs() {
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 8080);
        assertThat(ListenException.of(address, new BindException("Too many open files")).getMessage())
                .isEqualTo("cannot listen on 127.0.0.1:8080: Too many open files");
    }
}
