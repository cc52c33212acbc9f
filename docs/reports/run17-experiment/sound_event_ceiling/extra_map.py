"""Candidate extra sound-event recordings (experiment): (id, label, bytes-loader)."""
import re, zipfile
from pathlib import Path
X = Path('/tmp/lead/debs/x/usr/share')
Z = X / 'games/0ad/mods/public/public.zip'
RULES_0AD = [
    (r'audio/actor/fauna/animal/cattle_\d+', 'cow mooing'),
    (r'audio/actor/fauna/animal/chicken_\d+', 'hen clucking'),
    (r'audio/actor/fauna/animal/elephant_\w+', 'elephant trumpeting'),
    (r'audio/actor/fauna/animal/horse_\w+', 'horse neighing'),
    (r'audio/actor/fauna/animal/lion_\w+', 'big cat roaring'),
    (r'audio/actor/fauna/animal/pig_\w+', 'pig oinking'),
    (r'audio/actor/fauna/animal/sheep_\d+', 'sheep bleating'),
    (r'audio/actor/fauna/death/goat_\d+', 'sheep bleating'),
    (r'audio/actor/mounted/movement/mstep\d+', 'horse galloping'),
    (r'audio/ambient/weather/thunder_\d+', 'thunder'),
    (r'audio/attack/weapon/Musket_\d', 'gunshot'),
    (r'audio/attack/weapon/bow_attack_\d+', 'arrow shot'),
    (r'audio/attack/weapon/sword_attack_\d+|audio/attack/weapon/swordhit_\d+a?b?', 'sword clash'),
    (r'audio/resource/construction/con_saw_\d+', 'sawing'),
    (r'audio/voice/global/civ_dog_bark', 'dog barking'),
    (r'audio/attack/destruction/explode_debris_\d+', 'explosion'),
]
RULES_WL = [
    (r'sound/farm/sheep_\d+', 'sheep bleating'), (r'sound/farm/horse_\d+', 'horse neighing'),
    (r'sound/farm/donkey', 'donkey braying'), (r'sound/farm/ox_\d+', 'cow mooing'),
    (r'sound/animals/bird\d_\d+', 'bird singing'), (r'sound/animals/frog', 'frog croaking'),
    (r'sound/hammering/(hammering_\d+|geologist_hammer)', 'hammering'),
    (r'sound/atlanteans/saw/sawing_\d+', 'sawing'), (r'world/critters/duck/duck_\d+', 'duck quacking'),
]
RULES_LC = [(r'RailTrain\d', 'train'), (r'Blacksmith\d', 'hammering'), (r'RocketExplosion1', 'explosion')]
RULES_FC = [(r'LrgExpl|SmlExpl', 'explosion')]
RULES_FD = [(r'camera-shutter', 'camera shutter')]

def items():
    out = []
    z = zipfile.ZipFile(Z)
    for n in sorted(z.namelist()):
        if n.endswith('.ogg'):
            stem = n[:-4]
            for pat, lab in RULES_0AD:
                if re.fullmatch(pat, stem):
                    out.append((f'0ad:{n}', lab, (lambda n=n: z.read(n)))); break
    wl = X / 'games/widelands/data'
    for p in sorted(wl.rglob('*.ogg')):
        rel = str(p.relative_to(wl))[:-4]
        for pat, lab in RULES_WL:
            if re.fullmatch(pat, rel):
                out.append((f'widelands:{rel}', lab, p.read_bytes)); break
    for p in sorted((X / 'games/lincity-ng').rglob('*.wav')):
        for pat, lab in RULES_LC:
            if re.fullmatch(pat, p.stem):
                out.append((f'lincity:{p.name}', lab, p.read_bytes)); break
    for p in sorted((X / 'games/freeciv').rglob('*.ogg')):
        for pat, lab in RULES_FC:
            if re.fullmatch(pat, p.stem):
                out.append((f'freeciv:{p.name}', lab, p.read_bytes)); break
    for p in sorted((X / 'sounds').rglob('*.oga')):
        for pat, lab in RULES_FD:
            if re.fullmatch(pat, p.stem):
                out.append((f'freedesktop:{p.name}', lab, p.read_bytes)); break
    return out

if __name__ == '__main__':
    import collections
    it = items()
    print(len(it)); print(sorted(collections.Counter(l for _, l, _ in it).items(), key=lambda x: -x[1]))
