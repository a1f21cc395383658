// Embeds data/classifier/prompts.tsv (path from the build: DG_PROMPTS_TSV) as
// dg_engine_prompts_begin..dg_engine_prompts_end in read-only data.
__asm__(
    ".section .rodata\n"
    ".global dg_engine_prompts_begin\n"
    ".global dg_engine_prompts_end\n"
    ".balign 16\n"
    "dg_engine_prompts_begin:\n"
    ".incbin \"" DG_PROMPTS_TSV "\"\n"
    "dg_engine_prompts_end:\n"
    ".byte 0\n"
    ".previous\n");
