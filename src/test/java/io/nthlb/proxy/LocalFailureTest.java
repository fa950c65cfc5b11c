package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.ChannelException;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Errors;
import java.net.BindException;
import java.net.ConnectException;
import java.net.SocketException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LocalFailureTest {

    @BeforeAll
    static void nativeLibraryLoaded() {
        // Netty's native errors ask the native library for their message.
        assumeTrue(Epoll.isAvailable(), () -> "epoll unavailable: " + Epoll.unavailabilityCause());
    }

    @Test
    void nativeErrorsAreClassifiedByErrno() {
        assertThat(LocalFailure.of(new ChannelException(new Errors.NativeIoException("newSocketStream", -24))))
                .isEqualTo(LocalFailure.DESCRIPTORS);
        assertThat(LocalFailure.of(new Errors.NativeIoException("accept", -23))).isEqualTo(LocalFailure.DESCRIPTORS);
        assertThat(LocalFailure.of(new Errors.NativeIoException("connect", -99))).isEqualTo(LocalFailure.SOURCE_PORTS);
        assertThat(LocalFailure.of(new Errors.NativeIoException("socket", -105))).isEqualTo(LocalFailure.MEMORY);
    }

    @Test
    void jdkErrorsAreClassifiedByTheirMessage() {
        assertThat(LocalFailure.of(new SocketException("Too many open files"))).isEqualTo(LocalFailure.DESCRIPTORS);
        assertThat(LocalFailure.of(new BindException("Cannot assign requested address")))
                .isEqualTo(LocalFailure.SOURCE_PORTS);
    }

    @Test
    void failuresAtTheBackendAreNotLocal() {
        assertThat(LocalFailure.of(new ConnectException("Connection refused"))).isNull();
        assertThat(LocalFailure.of(new Errors.NativeIoException("connect", -111))).isNull();
        assertThat(LocalFailure.of(new Errors.NativeIoException("connect", -113))).isNull();
    }
}
