package io.nthlb.cli;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code nthlb list}: a running nthlb's table with its live counters, as {@code iptables -t nat -nvL} prints it. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = "Print the running table as 'iptables -t nat -nvL' does, with live counters.",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:listed", "1:no such chain, or no admin endpoint to ask"})
public final class ListCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    AdminClientOptions admin;

    @Option(names = "-x", description = "exact numbers, as iptables -x does: no K, M, G past 99999")
    boolean exact;

    @Parameters(arity = "0..1", paramLabel = "CHAIN", description = "only this chain")
    String chain;

    @Override
    public Integer call() {
        StringBuilder path = new StringBuilder("/rules");
        char separator = '?';
        if (exact) {
            path.append(separator).append('x');
            separator = '&';
        }
        if (chain != null) {
            path.append(separator).append("chain=").append(URLEncoder.encode(chain, StandardCharsets.UTF_8));
        }
        return AdminCommands.print(spec, admin, client -> client.get(path.toString()));
    }
}
