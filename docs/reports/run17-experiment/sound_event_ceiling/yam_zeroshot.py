import csv, json, torch, numpy as np
names = [r[2] for r in csv.reader(open('/tmp/aw/x/sead012/sead/data/yamnet_class_map.csv'))][1:]
ix = {n: i for i, n in enumerate(names)}
M = {
 'applause': ['Applause', 'Clapping'], 'arrow shot': ['Arrow', 'Whoosh, swoosh, swish'], 'bell ringing': ['Bell', 'Church bell', 'Jingle bell', 'Bicycle bell', 'Chime'],
 'big cat roaring': ['Roaring cats (lions, tigers)', 'Roar'], 'bird singing': ['Bird vocalization, bird call, bird song', 'Chirp, tweet', 'Bird'],
 'camera shutter': ['Camera', 'Single-lens reflex camera'], 'car engine': ['Car', 'Engine', 'Engine starting', 'Idling', 'Motor vehicle (road)'],
 'cat meowing': ['Meow', 'Cat', 'Caterwaul'], 'cow mooing': ['Moo', 'Cattle, bovinae'], 'cowbell': ['Cowbell'], 'crow cawing': ['Crow', 'Caw'],
 'cymbal crash': ['Cymbal'], 'dog barking': ['Bark', 'Dog', 'Bow-wow', 'Yip'], 'donkey braying': ['Horse', 'Neigh, whinny'],  # AudioSet has no donkey
 'door creaking': ['Creak', 'Door', 'Squeak'], 'door knock': ['Knock'], 'duck quacking': ['Quack', 'Duck'], 'elephant trumpeting': ['Wild animals', 'Roar'],
 'explosion': ['Explosion', 'Boom', 'Eruption'], 'fire crackling': ['Fire', 'Crackle'], 'fireworks': ['Fireworks', 'Firecracker'],
 'frog croaking': ['Frog', 'Croak'], 'glass clinking': ['Glass', 'Chink, clink'], 'gong': ['Gong'], 'gunshot': ['Gunshot, gunfire', 'Cap gun', 'Machine gun'],
 'hammering': ['Hammer'], 'hand clap': ['Clapping', 'Hands'], 'heartbeat': ['Heart sounds, heartbeat'], 'helicopter': ['Helicopter'],
 'hen clucking': ['Cluck', 'Chicken, rooster'], 'hi-hat': ['Hi-hat'], 'horse galloping': ['Clip-clop'], 'horse neighing': ['Neigh, whinny', 'Horse'],
 'insect buzzing': ['Buzz', 'Bee, wasp, etc.', 'Insect', 'Mosquito', 'Fly, housefly'], 'kettle whistling': ['Steam whistle', 'Whistle'],
 'kick drum': ['Bass drum'], 'object falling': ['Thump, thud', 'Clatter', 'Bang'], 'owl hooting': ['Owl', 'Hoot'], 'pig oinking': ['Oink', 'Pig'],
 'rooster crowing': ['Crowing, cock-a-doodle-doo'], 'rumble': ['Rumble'], 'sawing': ['Sawing'], 'scissors cutting': ['Scissors'],
 'seagull calling': ['Squawk'], 'sheep bleating': ['Bleat', 'Sheep', 'Goat'], 'siren': ['Siren', 'Fire engine, fire truck (siren)', 'Emergency vehicle'],
 'snake hissing': ['Hiss', 'Snake'], 'snare drum': ['Snare drum', 'Rimshot'], 'sword clash': ['Clang'], 'thunder': ['Thunder', 'Thunderstorm'],
 'toilet flushing': ['Toilet flush'], 'tom-tom drum': ['Drum'], 'train': ['Train', 'Rail transport', 'Train whistle', 'Railroad car, train wagon'],
 'turkey gobbling': ['Gobble', 'Turkey'], 'vacuum cleaner': ['Vacuum cleaner'], 'washing machine': ['Mechanisms', 'Vibration'],
 'whistle': ['Whistle', 'Whistling'], 'wings flapping': ['Bird flight, flapping wings', 'Flap'], 'wolf growling': ['Growling', 'Canidae, dogs, wolves'],
}
d = torch.load('/tmp/lead/e17/yam_feats.pt')
labels = sorted(M)
for part, sl in (('mean', slice(2048, 2048 + 521)), ('max', slice(2048 + 521, None))):
    S = d['xte'][:, sl]
    ok = 0
    for s, y in zip(S, d['tey']):
        sc = [max(float(s[ix[c]]) for c in M[l]) for l in labels]
        ok += labels[int(np.argmax(sc))] == y
    print(part, 'zero-shot', ok / len(d['tey']))
    S = d['xtr'][:, sl]; ok = 0
    for s, y in zip(S, d['try']):
        sc = [max(float(s[ix[c]]) for c in M[l]) for l in labels]
        ok += labels[int(np.argmax(sc))] == y
    print(part, 'zero-shot on train', ok / len(d['try']))
