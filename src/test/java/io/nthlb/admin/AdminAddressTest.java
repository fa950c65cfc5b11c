package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AdminAddressTest {

    @Test
    void parsesIpv4Ipv6AndLocalhost() {
        assertThat(AdminAddress.parse("127.0.0.1:9180").authority()).isEqualTo("127.0.0.1:9180");
        assertThat(AdminAddress.parse("[::1]:9180").authority()).isEqualTo("[0:0:0:0:0:0:0:1]:9180");
        assertThat(AdminAddress.parse("localhost:1").isLoopback()).isTrue();
        assertThat(AdminAddress.parse("127.1.2.3:0").isLoopback()).isTrue();
        assertThat(AdminAddress.parse("0.0.0.0:9180").isLoopback()).isFalse();
    }

    @Test
    void refusesHostNamesRatherThanAskAResolver() {
        assertThatThrownBy(() -> AdminAddress.parse("admin.example:9180"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("admin address \"admin.example:9180\": HOST must be an IP address or localhost");
    }

    @Test
    void quotesTheInputWhenThePortIsBad() {
        assertThatThrownBy(() -> AdminAddress.parse("127.0.0.1"))
                .hasMessage("admin address \"127.0.0.1\": expected HOST:PORT");
        assertThatThrownBy(() -> AdminAddress.parse("127.0.0.1:http"))
                .hasMessage("admin address \"127.0.0.1:http\": bad port \"http\"");
        assertThatThrownBy(() -> AdminAddress.parse("127.0.0.1:65536"))
                .hasMessage("admin address \"127.0.0.1:65536\": port out of range (0-65535)");
        assertThatThrownBy(() -> AdminAddress.parse("127.0.0.300:80"))
                .hasMessage("admin address \"127.0.0.300:80\": bad IP address \"127.0.0.300\"");
    }

    @Test
    void aNonLoopbackAddressIsListenableOnlyWhenAllowed() {
        AdminAddress any = AdminAddress.parse("0.0.0.0:9180");
        assertThatThrownBy(() -> any.requireListenable(false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0.0.0.0:9180 is not a loopback address")
                .hasMessageContaining("--admin-allow-remote");
        assertThat(any.requireListenable(true)).isSameAs(any);
        AdminAddress loopback = AdminAddress.parse("127.0.0.1:9180");
        assertThat(loopback.requireListenable(false)).isSameAs(loopback);
    }
}
