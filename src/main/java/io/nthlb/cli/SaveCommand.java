package io.nthlb.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code nthlb save}: a running nthlb's table as {@code iptables-save} prints it, optionally with counters. */
@Command(name = "save", mixinStandardHelpOptions = true,
        description = "Print the running table as 'iptables-save -t nat' does.",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:saved", "1:no admin endpoint to ask"})
public final class SaveCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    AdminClientOptions admin;

    @Option(names = {"-c", "--counters"}, description = "put [pkts:bytes] before every rule, as iptables-save -c does")
    boolean counters;

    @Override
    public Integer call() {
        return AdminCommands.print(spec, admin, client -> client.get(counters ? "/save?c" : "/save"));
    }
}
