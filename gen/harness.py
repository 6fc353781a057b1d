"""The simulation harness: a Verilog module that runs whole layers on the tile without
the testbench touching every cycle.

``red_harness`` wraps ``red_tile`` and runs one pass of a layer's schedule
(:mod:`red.mapping`) per ``start``. The testbench writes the pass's weight beats and
input pixels as ``$readmemh`` files, pulses ``load`` and ``start``, and waits for
``finished``; the harness streams both memories into the tile and keeps every output
beat the tile emits in an output memory, in order. That memory is also the tile's
partial-sum input: a pass that accumulates takes, beat by beat, the previous pass's
output beats from it and overwrites them with its own, so the partial sums of a layer
never leave the simulation and nothing but the tile adds them. With ``write_out`` (the
last pass of a cout slice) the beats are also written to a file (``$fwrite``, one
hexadecimal beat per line). Files are named by the plusargs ``+red_w=``, ``+red_i=``
and ``+red_o=``.

**Trace window.** ``pass_number`` counts the run's passes from 0 (it steps at each
``load``). With ``+red_trace_first=A`` and/or ``+red_trace_last=B`` (``trace_window``
high) the waveform records only passes ``A .. B``: the output ``tracing`` rises at the
``load`` of pass ``A`` and falls at the ``load`` of pass ``B + 1``, two clock edges
before a pass's first edge and after its ``done``. Icarus obeys ``$dumpon``/``$dumpoff``;
Verilator ignores them, and the main :mod:`red.sim.runner` builds for a traced harness
dumps only while ``tracing`` is high. Without the plusargs ``tracing`` stays high.

Idle cycles and back-pressure come from hardware: four xorshift32 generators seeded
from ``seed`` (one per stream). Before each cycle in which the harness may offer a
weight, input or partial-sum beat it withholds ``valid`` when the generator's low byte
is below ``idle``; ``o.ready`` is low when the output generator's low byte is below
``stall``.
So a per-cycle probability ``P`` is the threshold ``round(256 * P)``
(:func:`stall_threshold`), the same for every simulator and run at full speed. A beat
once offered stays offered until taken (the stream rule).

The harness generates its own clock (``clk``, period :data:`CLOCK_PERIOD_NS`), so the
testbench writes no input in a cycle in which it has nothing to say (Verilator needs
``--timing``). The tile's counters are passed through as outputs of the same names. The
layer, counts, seed, thresholds and ``write_out`` are registered at ``load``, so nothing
in the tile depends
combinationally on the harness's inputs: Verilator then evaluates the design once per
clock edge, not again whenever the testbench writes an input.
"""

from __future__ import annotations

from dataclasses import dataclass

from red.config import COUNTER_WIDTH, TileConfig

__all__ = ["HARNESS_NAME", "harness_verilog", "harness_public_vlt", "stall_threshold",
           "RANDOM_BITS", "CLOCK_PERIOD_NS", "HARNESS_INPUTS", "MEMORY_WORD_BITS",
           "memory_words"]

HARNESS_NAME = "red_harness"

#: Clock period of every testbench (ns); the harness generates its own clock with it.
CLOCK_PERIOD_NS = 10

#: Width of the idle/stall thresholds: a per-cycle probability in steps of 1/256.
RANDOM_BITS = 8

#: Width of one word of the weight and pixel memories: a beat is stored as consecutive
#: words, low bits first. Simulators read ``$readmemh`` words digit by digit across the
#: whole word, so a 6,400-bit weight beat in one word made Verilator spend 54% of a
#: paper-tile run in ``VlReadMem::setData``; 64-bit words read in linear time.
MEMORY_WORD_BITS = 64


def memory_words(bits: int) -> int:
    """Memory words of one beat of ``bits`` bits."""
    return -(-bits // MEMORY_WORD_BITS)


#: The ports the testbench writes (at layer boundaries only).
HARNESS_INPUTS = ("rst", "load", "start", "layer", "n_w", "n_i", "seed", "idle", "stall",
                  "write_out")


def harness_public_vlt(counters: tuple[str, ...]) -> str:
    """Verilator control file giving VPI access to what the testbench touches: write
    access to :data:`HARNESS_INPUTS`, read access to the clock and the outputs. Nothing
    else is public, so Verilator need not re-evaluate the design for VPI writes that
    cannot happen."""
    writable = "".join(f'public_flat_rw -module "{HARNESS_NAME}" -var "{name}"\n'
                       for name in HARNESS_INPUTS)
    readable = "".join(f'public_flat_rd -module "{HARNESS_NAME}" -var "{name}"\n'
                       for name in ("clk", "busy", "finished", "out_beats", *counters))
    return "`verilator_config\n" + writable + readable


def stall_threshold(probability: float) -> int:
    """The ``idle``/``stall`` input for a per-cycle probability in ``[0, 1)``."""
    return min((1 << RANDOM_BITS) - 1, round(probability * (1 << RANDOM_BITS)))


#: The tile's clock-domain ports: in the generated module, but not in red gen's port
#: list, which lists the signature's members.
_DOMAIN_PORTS = ("clk", "rst")


def _tile_connections(widths: dict[str, int], o_addr: int) -> dict[str, str]:
    """What the harness drives into, or reads from, each tile port other than the
    counters: port name -> Verilog expression (``o_addr``: address bits of ``omem``)."""
    return {
        "clk": "clk", "rst": "rst", "layer": "layer_q", "start": "start_q",
        "busy": "busy", "done": "done",
        "w__valid": "w_valid", "w__ready": "w_ready",
        "w__payload": f"w_beat[{widths['w__payload'] - 1}:0]",
        "i__valid": "i_valid", "i__ready": "i_ready",
        "i__payload": f"i_beat[{widths['i__payload'] - 1}:0]",
        "ps__valid": "p_valid", "ps__ready": "p_ready",
        "ps__payload": f"omem[p_idx[{o_addr - 1}:0]]",
        "o__valid": "o_valid", "o__ready": "o_ready", "o__payload": "o_payload",
    }


#: The harness's trace window (see the module docstring): plain Verilog, no braces to
#: escape, spliced into :func:`harness_verilog`'s text.
_TRACE_WINDOW = """
    reg [31:0] pass_number, trace_first, trace_last;
    reg trace_window, trace_next;
    initial begin
        pass_number = 32'hffffffff;    // the first load makes it pass 0
        trace_first = 32'd0;
        trace_last = 32'hffffffff;
        trace_window = 1'b0;
        if ($value$plusargs("red_trace_first=%d", trace_first)) trace_window = 1'b1;
        if ($value$plusargs("red_trace_last=%d", trace_last)) trace_window = 1'b1;
        tracing = 1'b1;
    end
    // A simulation variable, as the output file's descriptor: blocking assignments.
    /* verilator lint_off BLKSEQ */
    always @(posedge clk) begin
        if (load) begin
            pass_number = pass_number + 32'd1;
            trace_next = !trace_window || (pass_number >= trace_first && pass_number <= trace_last);
`ifndef VERILATOR
            if (trace_next && !tracing) $dumpon;
            if (!trace_next && tracing) $dumpoff;
`endif
            tracing = trace_next;
        end
    end
    /* verilator lint_on BLKSEQ */
"""


def harness_verilog(config: TileConfig, tile_name: str, ports: list[dict]) -> str:
    """Verilog text of :data:`HARNESS_NAME` around the tile module ``tile_name``, whose
    ports (``red gen``'s port list: name, direction, width) it connects by name: the
    streams and controls to the harness's memories and registers, and every other
    output (a counter) out to a harness output of the same name. A tile port the
    harness cannot connect is an error, not a dangling wire."""
    h = _Harness.of(config, ports)
    tile_conns = ",\n".join(f"        .{name}({expr})" for name, expr in h.connections.items())
    return (_ports_text(h, tile_name) + _memories_text(h) + _streams_text(h)
            + f"""\
    {tile_name} tile (
{tile_conns}
    );
{_TRACE_WINDOW}

""" + _drivers_text(h) + """\
endmodule
`default_nettype wire
""")


@dataclass(frozen=True)
class _Harness:
    """The figures the harness's text is made of."""

    connections: dict[str, str]
    """Tile port -> the harness expression connected to it."""
    counters: tuple[str, ...]
    layer_w: int
    wbeat_w: int
    obeat_w: int
    w_depth: int
    """Weight beats and input pixels the memories hold."""
    i_depth: int
    o_depth: int
    """Output beats (= the next pass's partial sums) the output memory holds."""
    o_addr: int
    w_words: int
    i_words: int

    @classmethod
    def of(cls, config: TileConfig, ports: list[dict]) -> "_Harness":
        """Check that every tile port can be connected, and size the harness."""
        widths = {port["name"]: port["width"] for port in ports}
        widths.update(dict.fromkeys(_DOMAIN_PORTS, 1))
        o_depth = config.max_out_beats
        o_addr = max(1, (o_depth - 1).bit_length())
        connections = _tile_connections(widths, o_addr)
        unknown = [port["name"] for port in ports
                   if port["name"] not in connections and port["direction"] == "input"]
        missing = sorted(set(connections) - set(widths))
        if unknown or missing:
            raise ValueError(f"the harness cannot connect tile inputs {unknown} "
                             f"or finds no tile ports {missing}")
        counters = tuple(port["name"] for port in ports if port["name"] not in connections)
        if any(widths[name] != COUNTER_WIDTH for name in counters):
            raise ValueError(f"tile outputs {list(counters)} are not all "
                             f"{COUNTER_WIDTH}-bit counters")
        connections.update({name: name for name in counters})
        return cls(connections, counters, widths["layer"], widths["w__payload"],
                   widths["o__payload"], config.rows, config.max_in * config.max_in,
                   o_depth, o_addr, memory_words(widths["w__payload"]),
                   memory_words(widths["i__payload"]))


def _ports_text(h: _Harness, tile_name: str) -> str:
    """The module's header: its ports."""
    layer_w = h.layer_w
    counter_ports = "".join(f"    output wire [{COUNTER_WIDTH - 1}:0] {name},\n"
                            for name in h.counters)
    return f"""\
// Simulation harness of {tile_name} (generated by red.gen.harness; see its docstring).
`default_nettype none
module {HARNESS_NAME} (
    input  wire rst,
    input  wire load,                  // read the +red_w / +red_i files, open +red_o
    input  wire start,                 // start the layer (after load)
    input  wire [{layer_w - 1}:0] layer,  // layer, n_w, n_i, seed, idle, stall: taken at load
    input  wire [31:0] n_w,            // weight beats of the layer (cin)
    input  wire [31:0] n_i,            // input pixels of the layer (h*w)
    input  wire [31:0] seed,
    input  wire [{RANDOM_BITS - 1}:0] idle,     // withhold valid when random byte < idle
    input  wire [{RANDOM_BITS - 1}:0] stall,    // withhold o.ready when random byte < stall
    input  wire write_out,             // also write the pass's output beats to +red_o
{counter_ports}    output wire busy,
    output reg  finished,              // the layer is done and its output file closed
    output reg  [31:0] out_beats,      // output beats written
    output reg  tracing                // the waveform records this cycle (trace window)
);
"""


def _memories_text(h: _Harness) -> str:
    """The clock, and the memories the layer's files are read into."""
    w_words, i_words, w_depth, i_depth = h.w_words, h.i_words, h.w_depth, h.i_depth
    obeat_w, o_depth = h.obeat_w, h.o_depth
    return f"""\
    reg clk = 1'b0;
    always #{CLOCK_PERIOD_NS // 2} clk = ~clk;

    // Weight and pixel beats as {w_words} and {i_words} words of {MEMORY_WORD_BITS} bits, low word first.
    reg [{MEMORY_WORD_BITS - 1}:0] wmem [0:{w_depth * w_words - 1}];
    reg [{MEMORY_WORD_BITS - 1}:0] imem [0:{i_depth * i_words - 1}];
    reg [{w_words * MEMORY_WORD_BITS - 1}:0] w_beat;
    reg [{i_words * MEMORY_WORD_BITS - 1}:0] i_beat;
    reg [{obeat_w - 1}:0] omem [0:{o_depth - 1}];   // output beats = next partial sums
    reg [8*1024-1:0] w_file, i_file, o_file;
    integer o_fd;

    initial begin
        if (!$value$plusargs("red_w=%s", w_file)) w_file = "w.hex";
        if (!$value$plusargs("red_i=%s", i_file)) i_file = "i.hex";
        if (!$value$plusargs("red_o=%s", o_file)) o_file = "o.hex";
        o_fd = 0;
    end

"""


def _streams_text(h: _Harness) -> str:
    """The registers behind the tile's streams and the beats they offer."""
    layer_w, obeat_w, w_words, i_words = h.layer_w, h.obeat_w, h.w_words, h.i_words
    return f"""\
    function automatic [31:0] xorshift(input [31:0] x);
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xorshift = y ^ (y << 5);
        end
    endfunction

    reg [{layer_w - 1}:0] layer_q;
    reg [31:0] n_w_q, n_i_q, seed_q;
    reg [{RANDOM_BITS - 1}:0] idle_q, stall_q;
    reg start_q, write_out_q;
    reg [31:0] rand_w, rand_i, rand_p, rand_o;
    reg [31:0] w_idx, i_idx, p_idx, n_p;
    reg w_valid, i_valid, p_valid, o_ready, running;
    wire w_ready, i_ready, p_ready, o_valid, done;
    wire [{obeat_w - 1}:0] o_payload;
    wire [31:0] w_next = w_idx + {{31'd0, w_valid & w_ready}};
    wire [31:0] i_next = i_idx + {{31'd0, i_valid & i_ready}};
    wire [31:0] p_next = p_idx + {{31'd0, p_valid & p_ready}};
    // The beats at the indices the next cycle shows, read when an index moves (not
    // continuous assignments, which Icarus re-evaluates on every word $readmemh writes).
    integer word;
    always @(posedge clk) begin
        if (start_q || (w_valid && w_ready))
            for (word = 0; word < {w_words}; word = word + 1)
                w_beat[word * {MEMORY_WORD_BITS} +: {MEMORY_WORD_BITS}] <= wmem[(start_q ? 32'd0 : w_next) * {w_words} + word];
        if (start_q || (i_valid && i_ready))
            for (word = 0; word < {i_words}; word = word + 1)
                i_beat[word * {MEMORY_WORD_BITS} +: {MEMORY_WORD_BITS}] <= imem[(start_q ? 32'd0 : i_next) * {i_words} + word];
    end

"""


def _drivers_text(h: _Harness) -> str:
    """Loading a layer, and driving its streams with random idle and stall cycles."""
    w_words, i_words, o_addr = h.w_words, h.i_words, h.o_addr
    return f"""\
    // The file descriptor is a simulation variable, not state: blocking assignments.
    /* verilator lint_off BLKSEQ */
    always @(posedge clk) begin
        if (load) begin
            $readmemh(w_file, wmem, 0, n_w * {w_words} - 1);
            $readmemh(i_file, imem, 0, n_i * {i_words} - 1);
            if (o_fd != 0) $fclose(o_fd);
            o_fd = $fopen(o_file, "w");
            {{layer_q, n_w_q, n_i_q, seed_q, idle_q, stall_q, write_out_q}} <=
                {{layer, n_w, n_i, seed, idle, stall, write_out}};
        end
        start_q <= start & !rst;
        if (rst) begin
            {{w_valid, i_valid, p_valid, o_ready, running, finished}} <= 6'b0;
            out_beats <= 32'd0;
        end else if (start_q) begin
            {{w_valid, i_valid, p_valid, o_ready, finished}} <= 5'b0;
            running <= 1'b1;
            w_idx <= 32'd0;
            i_idx <= 32'd0;
            p_idx <= 32'd0;
            n_p <= out_beats;              // the previous pass's beats are the partial sums
            out_beats <= 32'd0;
            rand_w <= (seed_q ^ 32'h9e3779b9) | 32'd1;
            rand_i <= (seed_q ^ 32'h7f4a7c15) | 32'd1;
            rand_p <= (seed_q ^ 32'h2545f491) | 32'd1;
            rand_o <= (seed_q ^ 32'h85ebca6b) | 32'd1;
        end else if (running) begin
            rand_w <= xorshift(rand_w);
            rand_i <= xorshift(rand_i);
            rand_p <= xorshift(rand_p);
            rand_o <= xorshift(rand_o);
            w_idx <= w_next;
            i_idx <= i_next;
            p_idx <= p_next;
            // An offered beat stays offered until taken; otherwise offer the next one
            // unless this cycle is idle.
            if (!w_valid || w_ready)
                w_valid <= w_next < n_w_q && rand_w[{RANDOM_BITS - 1}:0] >= idle_q;
            if (!i_valid || i_ready)
                i_valid <= i_next < n_i_q && rand_i[{RANDOM_BITS - 1}:0] >= idle_q;
            if (!p_valid || p_ready)
                p_valid <= p_next < n_p && rand_p[{RANDOM_BITS - 1}:0] >= idle_q;
            o_ready <= rand_o[{RANDOM_BITS - 1}:0] >= stall_q;
            if (o_valid && o_ready) begin
                // Beat j of an accumulating pass was read as partial sum j this cycle.
                omem[out_beats[{o_addr - 1}:0]] <= o_payload;
                if (write_out_q) $fwrite(o_fd, "%h\\n", o_payload);
                out_beats <= out_beats + 32'd1;
            end
            if (done) begin
                $fclose(o_fd);
                o_fd = 0;
                running <= 1'b0;
                finished <= 1'b1;
                o_ready <= 1'b0;
            end
        end
    end
    /* verilator lint_on BLKSEQ */
"""
