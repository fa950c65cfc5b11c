package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class SourceRangeTest {

    @Test
    void oneAddressOrARangeOfThem() throws Exception {
        assertThat(SourceRange.parse("10.0.0.5")).containsExactly(InetAddress.getByName("10.0.0.5"));
        assertThat(SourceRange.parse("10.0.0.254-10.0.1.1")).containsExactly(InetAddress.getByName("10.0.0.254"),
                InetAddress.getByName("10.0.0.255"), InetAddress.getByName("10.0.1.0"), InetAddress.getByName("10.0.1.1"));
        assertThat(SourceRange.parse("2001:db8::1-2001:db8::2")).containsExactly(InetAddress.getByName("2001:db8::1"),
                InetAddress.getByName("2001:db8::2"));
    }

    @Test
    void badValuesAreNamedInTheError() {
        assertThatThrownBy(() -> SourceRange.parse("backend.example")).hasMessage(
                "--source backend.example: 'backend.example' is not a numeric IP address");
        assertThatThrownBy(() -> SourceRange.parse("10.0.0.9-10.0.0.1")).hasMessage(
                "--source 10.0.0.9-10.0.0.1: the range ends before it starts");
        assertThatThrownBy(() -> SourceRange.parse("10.0.0.1-::1")).hasMessageContaining("must be IPv4, or both IPv6");
        assertThatThrownBy(() -> SourceRange.parse("10.0.0.0-10.0.255.255")).hasMessageContaining("more than 1024");
    }

    @Test
    void anAddressThisHostCannotBindIsAStartUpError() throws Exception {
        SourceRange.requireLocal(List.of(InetAddress.getByName("127.0.0.2")));
        assertThatThrownBy(() -> SourceRange.requireLocal(List.of(InetAddress.getByName("192.0.2.1"))))
                .hasMessageStartingWith("--source 192.0.2.1: cannot bind it here");
    }
}
