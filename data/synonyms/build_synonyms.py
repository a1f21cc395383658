#!/usr/bin/env python3
"""Builds data/synonyms/synonyms.tsv from WordNet 3.0 (Debian package `wordnet-base`).

Deterministic: the same WordNet files give the same bytes out. Usage:
    python3 data/synonyms/build_synonyms.py [/usr/share/wordnet] > data/synonyms/synonyms.tsv

Only pairs that are safe to swap without changing meaning are kept (conservative by design):
  * a word enters a group only through its DOMINANT sense: the group is the set of words whose
    most frequent sense (by SemCor tag counts, cntlist.rev) is the same synset, so grouping is
    transitive by construction (no a~b, b~c, a!~c chains);
  * that sense carries >= MIN_DOMINANCE of the word's tagged uses across ALL parts of speech
    (so "fast" adjective/adverb/verb/noun ambiguity is excluded), with >= MIN_TAGS tags;
  * adjectives, adverbs and nouns only (no verbs: inflection is ambiguous); lowercase ASCII
    letters only, length >= 3, not an inflected form or base listed in WordNet's *.exc files,
    not a function word, a number word or a known idiom-prone word;
  * members of a group share the a/an class of their first letter (vowel vs consonant; words
    starting with "u" or a silent "h" are dropped), so "a"/"an" stays grammatical;
  * nouns: only those with no verb sense at all (so "-s" forms are not verbs), and the plural
    never matches because only the base form is listed.
Output: one group per line, members tab-separated, most frequent first; a header comment
names the source and the parameters.
"""
import collections
import os
import sys

MIN_DOMINANCE = float(os.environ.get("DOM", "0.6"))
MIN_TAGS = int(os.environ.get("TAGS", "2"))
MAX_GROUP = 4

STOP = set("""a an the and or but if then else of to in on at by for with from as is are was were be
been being it its this that these those there here what which who whom whose when where why how all
any both each few more most other some such no nor not only own same so than too very can will just
one two three four five six seven eight nine ten first second third last next new old also even
still well much many lot lots way thing things kind sort part time times people person man men
right left up down out off over under again further once ever never always often hence thus
mean means like yes okay ok fine sure""".split())
# Reviewed by hand after a build: words whose dominant WordNet sense is safe but whose everyday
# use is not (prepositions WordNet only knows as adverbs, names, register shifts, verb forms,
# idioms, partial synonyms). Keeping the list in the script keeps the build reproducible.
BLOCK = set("""about august christ jesus reb johnny john toilet lavatory darned goddam goddamned damn
goddamn militia reserves marketing selling merchandising looking sounding projected sticking pains
striving pecs pectoral cowboy puncher jimdandy jimhickey saloon ginmill government regime finding
determination housing lodging detection sensing peculiar queer remarkable singular severely badly
soon presently heaven paradise main chief however nevertheless nonetheless satire sarcasm
delightful delicious golden gilded gospel gospels bible scripture biblical scriptural creature beast
lad fella papa dad daddy mama mommy grandmother granny grandma idiot imbecile cruel savage brooding
reflective keen penetrating older elderly steps stairs dozens scores tons guardian defender cattle
cows religious spiritual slowing deceleration rating valuation revenue receipts promotion publicity
inherent integral disappointed frustrated decorator designer diary journal sinister threatening swift
fleet pitcher hurler slugger hitter teen teenage troops soldiery concept conception dear beloved
manner mode precious cherished pasted glued maniac madman divinity deity mischief shenanigan
preaching sermon pastor parson reporter newsman tub bathtub motionless static marked pronounced
looking resultant consequent socialist socialistic phonology phonemics surely certainly
dependence dependency concurrent simultaneous epoch era city metropolis guidance counseling financial
fiscal expansion enlargement recurrent repeated suitable suited later subsequently simply merely
basically fundamentally""".split())
# Hand-picked groups of common adverbs that LLM answers use a lot (the automatic rule above
# rejects them because they have several senses). Each member must share a WordNet synset of
# the same part of speech with the first member; the build fails otherwise. Adverbs rarely
# form terms of art, so swapping them keeps meaning.
SUPPLEMENT = [
    ("r", "often frequently"),
    ("r", "usually normally commonly ordinarily"),
    ("r", "especially particularly specially"),
    ("r", "exactly precisely"),
    ("r", "approximately roughly"),
    ("r", "nearly almost virtually"),
    ("r", "completely entirely totally wholly"),
    ("r", "currently presently"),
    ("r", "therefore consequently"),
    ("r", "extremely exceedingly"),
    ("r", "essentially basically fundamentally"),
    ("r", "separately individually"),
    ("a", "amazing astonishing"),
]
SILENT_H = {"hour", "honest", "honor", "honour", "heir", "herb", "honorable", "hourly", "honestly"}
VOWELS = set("aeio")


def read_index(wn, pos):
    out = {}
    with open(os.path.join(wn, "index." + pos), encoding="latin-1") as f:
        for line in f:
            if line.startswith(" "):
                continue
            parts = line.split()
            lemma, p_cnt = parts[0], int(parts[3])
            rest = parts[4 + p_cnt:]
            sense_cnt = int(rest[0])
            offsets = rest[2:2 + sense_cnt]
            out[lemma] = offsets
    return out


def main():
    wn = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet"
    pos_names = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
    index = {p: read_index(wn, name) for name, p in pos_names.items()}
    # tag counts: (lemma, pos) -> {sense_number: count}
    tags = collections.defaultdict(dict)
    ss = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
    with open(os.path.join(wn, "cntlist.rev"), encoding="latin-1") as f:
        for line in f:
            key, num, cnt = line.split()
            lemma, rest = key.split("%", 1)
            tags[(lemma, ss[rest[0]])][int(num)] = int(cnt)
    excluded = set()
    for name in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(wn, name + ".exc"), encoding="latin-1") as f:
            for line in f:
                excluded.update(line.split())

    groups = collections.defaultdict(list)  # (pos, synset offset) -> [(count, word)]
    for pos in ("a", "r", "n"):
        for lemma, offsets in index[pos].items():
            if not lemma.isascii() or not lemma.isalpha() or not lemma.islower() or len(lemma) < 3:
                continue
            if lemma in STOP or lemma in BLOCK or lemma in excluded or lemma in SILENT_H or lemma[0] == "u":
                continue
            if pos == "n" and lemma in index["v"]:
                continue
            total = sum(sum(tags[(lemma, p)].values()) for p in ("n", "v", "a", "r"))
            first = tags[(lemma, pos)].get(1, 0)
            if first < MIN_TAGS or total == 0 or first / total < MIN_DOMINANCE:
                continue
            groups[(pos, offsets[0])].append((first, lemma))

    lines = []
    for (pos, off), members in groups.items():
        by_class = collections.defaultdict(list)
        for cnt, w in members:
            by_class[w[0] in VOWELS].append((cnt, w))
        for cls_members in by_class.values():
            if len(cls_members) < 2:
                continue
            cls_members.sort(key=lambda cw: (-cw[0], cw[1]))
            # abbreviations ("sept" for "september", "lab" for "laboratory")
            words = [w for _, w in cls_members]
            cls_members = [(c, w) for c, w in cls_members
                           if not any(o != w and o.startswith(w) for o in words)]
            if len(cls_members) < 2:
                continue
            lines.append("\t".join(w for _, w in cls_members[:MAX_GROUP]))
    supplement_words = set()
    for pos, g in SUPPLEMENT:
        words = g.split()
        first = set(index[pos][words[0]])
        for w in words[1:]:
            if not first & set(index[pos].get(w, [])):
                sys.exit(f"supplement: {words[0]} and {w} share no {pos} synset")
        supplement_words.update(words)
    kept = []
    for line in lines:
        ws = [w for w in line.split("\t") if w not in supplement_words]
        if len(ws) >= 2:
            kept.append("\t".join(ws))
    lines = kept + ["\t".join(g.split()) for _, g in SUPPLEMENT]
    lines.sort()
    print(f"# distillguard synonym groups, built by data/synonyms/build_synonyms.py from WordNet 3.0")
    print(f"# (Princeton WordNet licence, see data/synonyms/SOURCES.md); dominance>={MIN_DOMINANCE}, "
          f"tags>={MIN_TAGS}, max group {MAX_GROUP}; {len(lines)} groups")
    for l in lines:
        print(l)


if __name__ == "__main__":
    main()
