// Magenta's published sketch-rnn models (sketch-rnn-js's model list), served as
// <base>/<name>.<gen|vae>.json. Models are Apache-2.0, trained on Quick, Draw!
export const MAGENTA_BASE_URL = 'https://storage.googleapis.com/quickdraw-models/sketchRNN/large_models/';

export const MAGENTA_MODELS = Object.freeze([
  'alarm_clock', 'ambulance', 'angel', 'ant', 'antyoga', 'backpack', 'barn', 'basket', 'bear', 'bee',
  'beeflower', 'bicycle', 'bird', 'book', 'brain', 'bridge', 'bulldozer', 'bus', 'butterfly', 'cactus',
  'calendar', 'castle', 'cat', 'catbus', 'catpig', 'chair', 'couch', 'crab', 'crabchair',
  'crabrabbitfacepig', 'cruise_ship', 'diving_board', 'dog', 'dogbunny', 'dolphin', 'duck', 'elephant',
  'elephantpig', 'everything', 'eye', 'face', 'fan', 'fire_hydrant', 'firetruck', 'flamingo', 'flower',
  'floweryoga', 'frog', 'frogsofa', 'garden', 'hand', 'hedgeberry', 'hedgehog', 'helicopter', 'kangaroo',
  'key', 'lantern', 'lighthouse', 'lion', 'lionsheep', 'lobster', 'map', 'mermaid', 'monapassport',
  'monkey', 'mosquito', 'octopus', 'owl', 'paintbrush', 'palm_tree', 'parrot', 'passport', 'peas',
  'penguin', 'pig', 'pigsheep', 'pineapple', 'pool', 'postcard', 'power_outlet', 'rabbit',
  'rabbitturtle', 'radio', 'radioface', 'rain', 'rhinoceros', 'rifle', 'roller_coaster', 'sandwich',
  'scorpion', 'sea_turtle', 'sheep', 'skull', 'snail', 'snowflake', 'speedboat', 'spider', 'squirrel',
  'steak', 'stove', 'strawberry', 'swan', 'swing_set', 'the_mona_lisa', 'tiger', 'toothbrush',
  'toothpaste', 'tractor', 'trombone', 'truck', 'whale', 'windmill', 'yoga', 'yogabicycle',
]);

// The model the app opens on, shipped with it (no network needed).
export const DEFAULT_MODEL = Object.freeze({ label: 'sheep (built in)', url: 'models/sheep.safetensors' });
