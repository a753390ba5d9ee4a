"""Hand-written building blocks for the bundled sample corpus (see make_sample.py).

Each everyday topic exists once in English and once in Simplified Chinese. A topic
holds the slot fillers that the sentence templates in make_sample.py combine:

- ``subjects``: who does something, always singular in English ("the gardener");
- ``actions``: what they do; in English a ``(present, past)`` pair of third-person
  verb phrases, in Chinese one verb phrase (Chinese marks tense with words, not forms);
- ``things`` / ``adjectives``: a noun and the words that can describe it;
- ``places``: where, already with its preposition ("in the back garden", "在后院");
- ``reasons``: a present-tense clause usable after "because" / "因为";
- ``facts``: ``(template, low, high)``, a sentence with a ``{n}`` drawn from [low, high];
- ``tips``: imperative phrases, used in checklists and "three things to remember";
- ``questions`` and ``titles``: complete as written.

The text is original to glmprep and, like the generated corpus, dedicated to the
public domain under CC0 1.0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

Action = Union[str, Tuple[str, str]]


@dataclass(frozen=True)
class Topic:
    name: str
    subjects: Tuple[str, ...]
    actions: Tuple[Action, ...]
    things: Tuple[str, ...]
    adjectives: Tuple[str, ...]
    places: Tuple[str, ...]
    reasons: Tuple[str, ...]
    facts: Tuple[Tuple[str, int, int], ...]
    tips: Tuple[str, ...]
    questions: Tuple[str, ...]
    titles: Tuple[str, ...]


# ---------------------------------------------------------------------------
# English
# ---------------------------------------------------------------------------

EN_TIMES = (
    "in the morning", "every Saturday", "after lunch", "before the rain", "at seven o'clock",
    "on Sunday", "in early spring", "late in the evening", "at dawn", "on a grey afternoon",
    "twice a week", "in the autumn",
)
EN_CONNECTORS = ("later", "however", "in the end", "meanwhile", "as usual", "then", "luckily")
EN_LIST_INTROS = ("A short checklist:", "What you need:", "Steps, in order:", "A few tips:")
EN_NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}

EN_TOPICS = (
    Topic(
        name="gardening",
        subjects=("the gardener", "my neighbour", "old Mr Hale", "the allotment club", "my aunt",
                  "a volunteer"),
        actions=(("waters the tomatoes", "watered the tomatoes"),
                 ("turns the compost", "turned the compost"),
                 ("plants a row of beans", "planted a row of beans"),
                 ("pulls the weeds by hand", "pulled the weeds by hand"),
                 ("ties the peas to their sticks", "tied the peas to their sticks"),
                 ("picks the ripe strawberries", "picked the ripe strawberries"),
                 ("sows carrot seeds", "sowed carrot seeds"),
                 ("mends the fence", "mended the fence")),
        things=("soil", "compost heap", "greenhouse", "watering can", "seed tray", "potato patch"),
        adjectives=("dry", "muddy", "warm", "crowded", "green", "quiet"),
        places=("in the back garden", "at the allotment", "near the shed", "by the greenhouse door",
                "along the south wall"),
        reasons=("the soil is still warm", "rain is coming tomorrow", "the slugs are busy at night",
                 "the beans grow fast in June", "the seeds need light"),
        facts=(("A row of beans needs about {n} litres of water a week.", 8, 30),
               ("The compost heap reached {n} degrees in the middle.", 40, 65),
               ("Tomato seeds sprout in roughly {n} days.", 5, 12),
               ("We harvested {n} kilograms of potatoes this year.", 12, 90),
               ("The allotment has {n} plots and a waiting list.", 20, 60)),
        tips=("check the soil before watering", "keep the seed trays on a bright sill",
              "label every row", "water in the evening", "leave space between the plants",
              "clean the tools after use"),
        questions=("Is it too early to plant the beans?", "Who left the gate open again?",
                   "Why do the lettuces bolt so quickly?"),
        titles=("Notes from the allotment", "A week in the garden", "What grew this year"),
    ),
    Topic(
        name="cooking",
        subjects=("my grandmother", "the cook", "our neighbour Lin", "my brother", "the baker",
                  "a student"),
        actions=(("chops the onions", "chopped the onions"),
                 ("stirs the soup slowly", "stirred the soup slowly"),
                 ("kneads the dough", "kneaded the dough"),
                 ("roasts the vegetables", "roasted the vegetables"),
                 ("boils the rice", "boiled the rice"),
                 ("tastes the sauce", "tasted the sauce"),
                 ("bakes a loaf of bread", "baked a loaf of bread"),
                 ("washes the pans", "washed the pans")),
        things=("kitchen", "soup", "bread", "oven", "sauce", "frying pan"),
        adjectives=("hot", "salty", "fragrant", "crisp", "thick", "sweet"),
        places=("in the small kitchen", "at the big table", "next to the stove", "in the bakery",
                "at the night market stall"),
        reasons=("the guests arrive at six", "the dough needs time to rise",
                 "the oven heats unevenly", "fresh herbs lose their smell quickly",
                 "the rice must rest"),
        facts=(("The bread bakes for {n} minutes at a high heat.", 25, 45),
               ("This soup needs {n} grams of lentils.", 150, 400),
               ("The recipe serves {n} people.", 2, 8),
               ("Let the dough rise for {n} hours.", 2, 4),
               ("We used {n} eggs for the cake.", 2, 6)),
        tips=("weigh the flour", "taste before adding salt", "keep the knife sharp",
              "preheat the oven", "let the meat rest", "wash the rice twice"),
        questions=("Is the oven hot enough yet?", "Who ate the last dumpling?",
                   "Should the sauce be this thick?"),
        titles=("Sunday cooking", "A simple bread recipe", "Dinner for six"),
    ),
    Topic(
        name="bicycles",
        subjects=("the mechanic", "my sister", "a courier", "the cycling club", "our teacher",
                  "a tourist"),
        actions=(("pumps up the tyres", "pumped up the tyres"),
                 ("oils the chain", "oiled the chain"),
                 ("adjusts the brakes", "adjusted the brakes"),
                 ("rides to work", "rode to work"),
                 ("fixes a flat tyre", "fixed a flat tyre"),
                 ("locks the bike to the rail", "locked the bike to the rail"),
                 ("raises the saddle", "raised the saddle"),
                 ("cleans the gears", "cleaned the gears")),
        things=("chain", "front wheel", "bike lane", "saddle", "repair kit", "hill"),
        adjectives=("rusty", "smooth", "steep", "loose", "shiny", "noisy"),
        places=("on the river path", "in the repair shop", "outside the station",
                "along the canal", "at the top of the hill"),
        reasons=("the chain squeaks", "the roads are wet", "the brakes feel soft",
                 "the ride is long", "the tyres lose air slowly"),
        facts=(("The ride to town is about {n} kilometres.", 6, 40),
               ("The shop repairs around {n} bikes a day.", 10, 40),
               ("The club meets at {n} o'clock on Saturdays.", 7, 10),
               ("A new chain costs about {n} euros.", 15, 45),
               ("The climb is {n} metres long.", 200, 900)),
        tips=("check the tyre pressure", "carry a spare tube", "oil the chain every month",
              "wear bright clothes", "test the brakes before a long ride",
              "lock the frame, not only the wheel"),
        questions=("Why does the chain keep slipping?", "Is the hill really that steep?",
                   "Where did I put the tyre levers?"),
        titles=("Looking after a bicycle", "The Saturday ride", "Notes from the repair shop"),
    ),
    Topic(
        name="weather",
        subjects=("the forecaster", "my father", "the fisherman", "the farmer next door",
                  "our class", "the night watchman"),
        actions=(("watches the clouds", "watched the clouds"),
                 ("checks the barometer", "checked the barometer"),
                 ("reads the forecast", "read the forecast"),
                 ("records the rainfall", "recorded the rainfall"),
                 ("closes the shutters", "closed the shutters"),
                 ("brings in the washing", "brought in the washing"),
                 ("measures the wind", "measured the wind"),
                 ("writes down the temperature", "wrote down the temperature")),
        things=("sky", "wind", "fog", "storm", "rain gauge", "morning"),
        adjectives=("grey", "cold", "bright", "wild", "heavy", "calm"),
        places=("on the hill", "by the harbour", "in the garden", "at the coast", "on the balcony"),
        reasons=("a storm is moving in", "the air feels heavy", "the wind has turned north",
                 "the clouds are low", "the fog lifts late"),
        facts=(("Yesterday {n} millimetres of rain fell.", 2, 40),
               ("The temperature dropped to {n} degrees overnight.", 2, 12),
               ("The wind reached {n} kilometres an hour.", 30, 90),
               ("It has rained on {n} days this month.", 3, 20),
               ("Sunrise was at {n} minutes past six.", 5, 55)),
        tips=("carry an umbrella", "check the forecast twice", "close the windows before a storm",
              "wear layers", "watch the clouds in the west", "keep the rain gauge level"),
        questions=("Will it rain before noon?", "Why is the fog so thick today?",
                   "Is that thunder or a lorry?"),
        titles=("A windy week", "Weather notes", "After the storm"),
    ),
    Topic(
        name="trains",
        subjects=("the conductor", "the driver", "a commuter", "the station master", "my uncle",
                  "a school group"),
        actions=(("checks the tickets", "checked the tickets"),
                 ("waits on platform two", "waited on platform two"),
                 ("reads the timetable", "read the timetable"),
                 ("catches the early train", "caught the early train"),
                 ("changes trains", "changed trains"),
                 ("announces the delay", "announced the delay"),
                 ("finds a seat by the window", "found a seat by the window"),
                 ("misses the last train", "missed the last train")),
        things=("platform", "timetable", "carriage", "ticket", "junction", "night train"),
        adjectives=("crowded", "late", "warm", "quiet", "slow", "empty"),
        places=("at the station", "on the night train", "in the second carriage",
                "at the junction", "on the old branch line"),
        reasons=("the signals are broken", "the line floods in spring",
                 "the morning trains are full", "the timetable changed last week",
                 "the ticket office closes early"),
        facts=(("The journey takes {n} minutes.", 20, 95),
               ("The train was {n} minutes late.", 3, 40),
               ("A return ticket costs {n} euros.", 4, 60),
               ("The line has {n} stations.", 6, 30),
               ("The night train leaves at {n} minutes past ten.", 5, 55)),
        tips=("buy the ticket early", "check the platform number", "keep your bag close",
              "stand behind the yellow line", "listen for announcements",
              "carry a book for the delays"),
        questions=("Is this the train to the coast?", "Why is the platform so crowded?",
                   "Has the night train been cancelled?"),
        titles=("A day on the branch line", "Notes from the platform", "The night train"),
    ),
    Topic(
        name="libraries",
        subjects=("the librarian", "a student", "my neighbour", "the reading group",
                  "an old reader", "the archivist"),
        actions=(("returns the books", "returned the books"),
                 ("borrows a novel", "borrowed a novel"),
                 ("shelves the new arrivals", "shelved the new arrivals"),
                 ("repairs a torn cover", "repaired a torn cover"),
                 ("reads in the corner", "read in the corner"),
                 ("searches the catalogue", "searched the catalogue"),
                 ("stamps the cards", "stamped the cards"),
                 ("prints a map", "printed a map")),
        things=("reading room", "catalogue", "book", "shelf", "library card", "archive"),
        adjectives=("quiet", "dusty", "bright", "full", "old", "tidy"),
        places=("in the reading room", "at the front desk", "in the archive", "near the window",
                "on the second floor"),
        reasons=("the library closes at eight", "the new books arrived today",
                 "the archive is cold", "the reading room is quiet", "the loan ends tomorrow"),
        facts=(("The library holds about {n} thousand books.", 20, 90),
               ("A loan lasts {n} days.", 14, 28),
               ("The reading room has {n} seats.", 20, 80),
               ("The late fee is {n} cents a day.", 10, 50),
               ("This year {n} new readers joined.", 100, 900)),
        tips=("return books on time", "speak quietly", "ask the librarian",
              "renew the loan online", "keep your card safe", "write down the shelf number"),
        questions=("Where is the atlas kept?", "Can I renew this book again?",
                   "Who wrote the note in the margin?"),
        titles=("An afternoon at the library", "The reading room", "New arrivals"),
    ),
    Topic(
        name="software",
        subjects=("the developer", "my colleague", "a new contributor", "the maintainer",
                  "our intern", "the reviewer"),
        actions=(("writes a small script", "wrote a small script"),
                 ("fixes a bug in the parser", "fixed a bug in the parser"),
                 ("runs the tests", "ran the tests"),
                 ("reads the log file", "read the log file"),
                 ("updates the README", "updated the README"),
                 ("reviews the patch", "reviewed the patch"),
                 ("tags a new release", "tagged a new release"),
                 ("cleans up the old branches", "cleaned up the old branches")),
        things=("build", "command line tool", "config file", "test suite", "error message",
                "script"),
        adjectives=("slow", "clear", "broken", "tidy", "fast", "confusing"),
        places=("on the old laptop", "in the terminal", "on the build server",
                "in the shared folder", "at the office"),
        reasons=("the build takes too long", "the error message is unclear",
                 "the tests fail on Mondays", "the config file changed",
                 "users asked for a flag"),
        facts=(("The test suite runs in {n} seconds.", 4, 90),
               ("The tool has {n} options, most of them rarely used.", 5, 30),
               ("Version {n} fixed the crash on empty files.", 2, 9),
               ("The script is only {n} lines long.", 30, 200),
               ("The log grew by {n} megabytes overnight.", 2, 80)),
        tips=("write a test first", "read the error message", "keep the script short",
              "commit small changes", "name things clearly", "check the exit code"),
        questions=("Why does the build fail only on Fridays?", "Who changed the config file?",
                   "Is there a flag for quiet output?"),
        titles=("A small command line tool", "Release notes", "Fixing the parser"),
    ),
    Topic(
        name="rivers",
        subjects=("the ferryman", "a fisherman", "the lock keeper", "the boatman", "my cousin",
                  "a walker"),
        actions=(("rows across the river", "rowed across the river"),
                 ("casts a line from the bank", "cast a line from the bank"),
                 ("opens the lock gates", "opened the lock gates"),
                 ("watches the water rise", "watched the water rise"),
                 ("ties the boat to a post", "tied the boat to a post"),
                 ("walks along the towpath", "walked along the towpath"),
                 ("skims stones", "skimmed stones"),
                 ("counts the ducks", "counted the ducks")),
        things=("river", "bridge", "towpath", "current", "water", "old mill"),
        adjectives=("fast", "brown", "shallow", "cold", "wide", "still"),
        places=("by the old bridge", "at the lock", "on the towpath", "near the mill",
                "below the weir"),
        reasons=("the water is high after the rain", "the current is strong",
                 "the fish bite at dawn", "the lock opens at nine", "the path floods in winter"),
        facts=(("The river is about {n} metres wide here.", 20, 120),
               ("The water rose by {n} centimetres overnight.", 10, 80),
               ("The ferry crosses {n} times a day.", 6, 24),
               ("The bridge is {n} years old.", 80, 400),
               ("We counted {n} ducks below the weir.", 5, 40)),
        tips=("stay away from the edge", "check the water level", "wear a life jacket",
              "close the lock gates", "take your litter home",
              "walk, do not run, on the towpath"),
        questions=("How deep is the river at the bend?", "Is the ferry running today?",
                   "Where does the towpath end?"),
        titles=("Down by the river", "The lock keeper's diary", "A walk along the towpath"),
    ),
    Topic(
        name="markets",
        subjects=("the fruit seller", "my mother", "the fishmonger", "a farmer",
                  "the baker's son", "an old trader"),
        actions=(("sets up the stall", "set up the stall"),
                 ("weighs the apples", "weighed the apples"),
                 ("counts the change", "counted the change"),
                 ("bargains over the price", "bargained over the price"),
                 ("sells fresh eggs", "sold fresh eggs"),
                 ("packs the baskets", "packed the baskets"),
                 ("buys a bunch of herbs", "bought a bunch of herbs"),
                 ("chalks the prices on a board", "chalked the prices on a board")),
        things=("market", "stall", "price board", "basket", "crowd", "square"),
        adjectives=("busy", "noisy", "cheap", "fresh", "colourful", "crowded"),
        places=("in the market square", "at the corner stall", "under the awning",
                "near the fountain", "by the fish counter"),
        reasons=("the market opens at dawn", "the apples are in season",
                 "prices fall near closing time", "the farmers come on Thursdays",
                 "the square is full by nine"),
        facts=(("A kilo of apples costs {n} cents.", 80, 300),
               ("The market has {n} stalls on a busy day.", 30, 120),
               ("She sold {n} loaves before noon.", 20, 90),
               ("The stall rent is {n} euros a week.", 20, 80),
               ("About {n} people visit on Saturdays.", 500, 3000)),
        tips=("bring your own bag", "come early for the best fruit", "carry small change",
              "ask for a taste", "compare prices", "be kind to the sellers"),
        questions=("How much are the cherries today?", "Is the fish really fresh?",
                   "Where is the cheese stall this week?"),
        titles=("Market day", "At the corner stall", "A Saturday in the square"),
    ),
)

# ---------------------------------------------------------------------------
# Simplified Chinese
# ---------------------------------------------------------------------------

ZH_TIMES = (
    "每天早上", "每个星期六", "午饭以后", "下雨之前", "七点钟", "星期天", "早春时节", "傍晚",
    "天刚亮的时候", "一个阴沉的下午", "每周两次", "秋天",
)
ZH_CONNECTORS = ("后来", "不过", "其实", "另外", "最后", "同时", "幸好")
ZH_LIST_INTROS = ("需要准备的东西：", "几个小建议：", "步骤如下：", "简单的清单：")
ZH_NUMBER_WORDS = {2: "两", 3: "三", 4: "四"}

ZH_TOPICS = (
    Topic(
        name="gardening",
        subjects=("园丁", "邻居老王", "我的姑妈", "社区菜园的志愿者", "爷爷", "隔壁的小女孩"),
        actions=("给番茄浇水", "翻动堆肥", "种下一排豆角", "用手拔草", "把豌豆绑在竹竿上",
                 "摘熟透的草莓", "播撒胡萝卜种子", "修补篱笆"),
        things=("泥土", "堆肥", "温室", "水壶", "育苗盘", "土豆地"),
        adjectives=("干燥", "泥泞", "暖和", "拥挤", "翠绿", "安静"),
        places=("在后院", "在菜园里", "在工具棚旁边", "在温室门口", "沿着南墙"),
        reasons=("土壤还很暖和", "明天要下雨", "蜗牛晚上很活跃", "豆角六月长得很快", "种子需要阳光"),
        facts=(("一排豆角每周大约需要{n}升水。", 8, 30),
               ("堆肥中间的温度达到了{n}度。", 40, 65),
               ("番茄种子大约{n}天就会发芽。", 5, 12),
               ("今年我们收了{n}公斤土豆。", 12, 90),
               ("菜园一共有{n}块地，还有人在排队。", 20, 60)),
        tips=("浇水前先摸摸土", "把育苗盘放在明亮的窗台上", "给每一行做好标记", "傍晚浇水",
              "植物之间留出空隙", "用完工具要擦干净"),
        questions=("现在种豆角是不是太早了？", "谁又忘了关菜园的门？", "生菜为什么这么快就抽薹了？"),
        titles=("菜园笔记", "园子里的一周", "今年种了什么"),
    ),
    Topic(
        name="cooking",
        subjects=("奶奶", "厨师", "邻居林阿姨", "我哥哥", "面包师", "一个留学生"),
        actions=("切洋葱", "慢慢搅汤", "揉面团", "烤蔬菜", "煮米饭", "尝酱汁的味道", "烤一条面包",
                 "洗锅"),
        things=("厨房", "汤", "面包", "烤箱", "酱汁", "平底锅"),
        adjectives=("烫", "咸", "香", "脆", "稠", "甜"),
        places=("在小厨房里", "在大餐桌旁", "在灶台边", "在面包店里", "在夜市的摊位上"),
        reasons=("客人六点钟到", "面团需要时间发酵", "烤箱受热不均匀", "新鲜香草的味道散得快",
                 "米饭要焖一会儿"),
        facts=(("面包要用大火烤{n}分钟。", 25, 45),
               ("这锅汤需要{n}克扁豆。", 150, 400),
               ("这个菜谱够{n}个人吃。", 2, 8),
               ("面团要发酵{n}个小时。", 2, 4),
               ("做这个蛋糕用了{n}个鸡蛋。", 2, 6)),
        tips=("面粉要称重", "加盐之前先尝一尝", "刀要磨快", "提前预热烤箱", "肉烤好后放一会儿",
              "米要淘两遍"),
        questions=("烤箱已经够热了吗？", "谁吃了最后一个饺子？", "酱汁应该这么稠吗？"),
        titles=("周日做饭", "简单的面包做法", "六个人的晚饭"),
    ),
    Topic(
        name="bicycles",
        subjects=("修车师傅", "我妹妹", "快递员", "骑行俱乐部", "我们老师", "一位游客"),
        actions=("给轮胎打气", "给链条上油", "调整刹车", "骑车去上班", "补内胎", "把车锁在栏杆上",
                 "把车座调高", "清洗变速器"),
        things=("链条", "前轮", "自行车道", "车座", "修车工具包", "上坡路"),
        adjectives=("旧", "顺滑", "陡", "松", "亮", "吵"),
        places=("在河边的小路上", "在修车铺里", "在车站外面", "沿着运河", "在山坡顶上"),
        reasons=("链条吱吱响", "路面很湿", "刹车有点软", "路程很长", "轮胎慢慢漏气"),
        facts=(("骑到城里大约{n}公里。", 6, 40),
               ("修车铺一天大约修{n}辆车。", 10, 40),
               ("俱乐部每周六早上{n}点集合。", 6, 9),
               ("一条新链条大约{n}块钱。", 40, 150),
               ("这段上坡路有{n}米长。", 200, 900)),
        tips=("检查胎压", "带一条备用内胎", "每个月给链条上一次油", "穿颜色鲜艳的衣服",
              "长途骑行前试一试刹车", "锁车架，不要只锁车轮"),
        questions=("链条为什么总是掉？", "这个坡真的有那么陡吗？", "撬胎棒放到哪里去了？"),
        titles=("怎样照顾一辆自行车", "星期六的骑行", "修车铺笔记"),
    ),
    Topic(
        name="weather",
        subjects=("天气预报员", "我爸爸", "渔夫", "隔壁的农民", "我们班", "守夜人"),
        actions=("看云", "查看气压计", "读天气预报", "记录降雨量", "关上百叶窗", "把晾的衣服收进来",
                 "测风速", "记下气温"),
        things=("天空", "风", "雾", "暴风雨", "雨量计", "早晨"),
        adjectives=("阴沉", "冷", "晴朗", "大", "闷", "平静"),
        places=("在山坡上", "在港口边", "在院子里", "在海边", "在阳台上"),
        reasons=("暴风雨就要来了", "空气很闷", "风向转北了", "云压得很低", "雾散得很晚"),
        facts=(("昨天下了{n}毫米的雨。", 2, 40),
               ("夜里气温降到了{n}度。", 1, 12),
               ("风速达到了每小时{n}公里。", 30, 90),
               ("这个月已经下了{n}天雨。", 3, 20),
               ("今天日出的时间是六点{n}分。", 10, 55)),
        tips=("带一把伞", "出门前看两遍天气预报", "暴风雨来之前关好窗户", "多穿几层衣服",
              "留意西边的云", "把雨量计放平"),
        questions=("中午之前会下雨吗？", "今天的雾为什么这么浓？", "那是打雷还是卡车开过去了？"),
        titles=("刮风的一周", "天气笔记", "暴风雨过后"),
    ),
    Topic(
        name="trains",
        subjects=("列车员", "司机", "一位上班族", "站长", "我叔叔", "一群学生"),
        actions=("检查车票", "等去海边的车", "看时刻表", "赶早班车", "换乘另一趟车",
                 "广播晚点的消息", "找到一个靠窗的座位", "错过末班车"),
        things=("站台", "时刻表", "车厢", "车票", "枢纽站", "夜车"),
        adjectives=("挤", "慢", "暖和", "安静", "空", "吵"),
        places=("在火车站", "在夜车上", "在第二节车厢里", "在枢纽站", "在那条老支线上"),
        reasons=("信号坏了", "春天线路会被淹", "早上的车总是很满", "时刻表上周改了", "售票处关门很早"),
        facts=(("这段路要坐{n}分钟。", 20, 95),
               ("火车晚点了{n}分钟。", 3, 40),
               ("往返票要{n}块钱。", 10, 120),
               ("这条线一共有{n}个车站。", 6, 30),
               ("夜车十点{n}分出发。", 5, 55)),
        tips=("早点买票", "确认站台号", "看好自己的包", "站在黄线后面", "注意听广播",
              "带本书打发晚点的时间"),
        questions=("这趟车是去海边的吗？", "站台上怎么这么挤？", "夜车是不是取消了？"),
        titles=("支线上的一天", "站台笔记", "夜车"),
    ),
    Topic(
        name="libraries",
        subjects=("图书管理员", "一个学生", "我的邻居", "读书会", "一位老读者", "档案员"),
        actions=("还书", "借一本小说", "把新书上架", "修补破了的封面", "安安静静地看书", "查图书目录",
                 "给借书卡盖章", "打印一张地图"),
        things=("阅览室", "目录", "书", "书架", "借书卡", "档案室"),
        adjectives=("安静", "旧", "亮", "满", "整齐", "冷"),
        places=("在阅览室里", "在服务台", "在档案室里", "在窗户旁边", "在二楼"),
        reasons=("图书馆八点关门", "新书今天到了", "档案室很冷", "阅览室很安静", "借期明天就到了"),
        facts=(("图书馆大约有{n}万册书。", 2, 30),
               ("一次可以借{n}天。", 14, 30),
               ("阅览室有{n}个座位。", 20, 80),
               ("逾期一天罚{n}分钱。", 10, 50),
               ("今年有{n}位新读者办了借书卡。", 100, 900)),
        tips=("按时还书", "说话小声一点", "不懂就问管理员", "在网上续借", "保管好借书卡",
              "记下书架编号"),
        questions=("地图册放在哪里？", "这本书还能再续借吗？", "页边的笔记是谁写的？"),
        titles=("图书馆里的下午", "阅览室", "新书到了"),
    ),
    Topic(
        name="software",
        subjects=("开发者", "我的同事", "一位新贡献者", "维护者", "实习生", "代码审查员"),
        actions=("写一个小脚本", "修复解析器里的一个错误", "运行测试", "查看日志文件", "更新说明文档",
                 "审查补丁", "发布一个新版本", "清理旧分支"),
        things=("构建", "命令行工具", "配置文件", "测试套件", "错误信息", "脚本"),
        adjectives=("慢", "清楚", "乱", "整齐", "快", "难懂"),
        places=("在旧笔记本电脑上", "在终端里", "在构建服务器上", "在共享文件夹里", "在办公室"),
        reasons=("构建太慢了", "错误信息说得不清楚", "测试每到星期一就失败", "配置文件改过了",
                 "用户想要一个新选项"),
        facts=(("测试套件跑完需要{n}秒。", 4, 90),
               ("这个工具有{n}个选项，大部分很少用到。", 5, 30),
               ("第{n}版修复了空文件导致的崩溃。", 2, 9),
               ("这个脚本只有{n}行。", 30, 200),
               ("日志一夜之间多了{n}兆字节。", 2, 80)),
        tips=("先写测试", "认真读错误信息", "脚本要写得短", "每次只提交一点改动", "名字要起得清楚",
              "检查退出码"),
        questions=("构建为什么只在星期五失败？", "谁改了配置文件？", "有没有让输出安静一点的选项？"),
        titles=("一个小小的命令行工具", "版本说明", "修复解析器"),
    ),
    Topic(
        name="rivers",
        subjects=("摆渡人", "一个钓鱼的人", "孩子们", "船夫", "我表哥", "船闸管理员"),
        actions=("划船过河", "甩竿钓鱼", "打开闸门", "看着河水上涨", "把船拴在木桩上",
                 "沿着纤道散步", "打水漂", "数鸭子"),
        things=("河", "桥", "纤道", "水流", "河水", "老磨坊"),
        adjectives=("急", "浑", "浅", "凉", "宽", "平静"),
        places=("在老桥边", "在船闸旁", "在纤道上", "在磨坊附近", "在堰下面"),
        reasons=("下过雨以后水位很高", "水流很急", "鱼在天亮时最爱咬钩", "船闸九点开", "冬天小路会被淹"),
        facts=(("这里的河面大约有{n}米宽。", 20, 120),
               ("一夜之间水位涨了{n}厘米。", 10, 80),
               ("渡船每天往返{n}次。", 6, 24),
               ("这座桥已经有{n}年了。", 80, 400),
               ("我们在堰下面数到了{n}只鸭子。", 5, 40)),
        tips=("不要靠近岸边", "看看水位", "穿上救生衣", "关好闸门", "把垃圾带回家",
              "在纤道上慢慢走，不要跑"),
        questions=("河湾那里的水有多深？", "今天渡船开吗？", "纤道通到哪里？"),
        titles=("河边", "船闸管理员的日记", "沿着纤道散步"),
    ),
    Topic(
        name="markets",
        subjects=("卖水果的大叔", "我妈妈", "卖鱼的阿姨", "一位农民", "面包师的儿子", "一个老商贩"),
        actions=("摆好摊位", "称苹果", "数零钱", "讨价还价", "卖新鲜鸡蛋", "把篮子装满", "买一把香草",
                 "用粉笔写价格"),
        things=("市场", "摊位", "价格牌", "篮子", "人群", "广场"),
        adjectives=("热闹", "吵", "便宜", "新鲜", "拥挤", "多彩"),
        places=("在集市广场上", "在拐角的摊位", "在遮阳棚下", "在喷泉旁边", "在卖鱼的柜台边"),
        reasons=("市场天一亮就开门", "苹果正当季", "快收摊的时候价格会降", "农民们星期四才来",
                 "九点钟广场就满了"),
        facts=(("一公斤苹果卖{n}块钱。", 4, 15),
               ("热闹的时候市场上有{n}个摊位。", 30, 120),
               ("她中午之前卖了{n}个面包。", 20, 90),
               ("摊位租金每周{n}块钱。", 50, 300),
               ("星期六大约有{n}个人来逛。", 500, 3000)),
        tips=("自己带袋子", "早点来挑最好的水果", "带些零钱", "可以先尝一尝", "多比较几家的价格",
              "对摊主客气一点"),
        questions=("今天樱桃多少钱一斤？", "这鱼真的新鲜吗？", "这周卖奶酪的摊位在哪里？"),
        titles=("赶集日", "拐角的摊位", "广场上的星期六"),
    ),
)

# ---------------------------------------------------------------------------
# Injected material: low-quality documents and the special-token sentences
# ---------------------------------------------------------------------------

# Too short to be worth training on.
EN_SHORT = ("ok", "thanks!")
ZH_SHORT = ("好的", "谢谢")

# Boilerplate lines that scraped pages repeat; a repeated-line doc is one of them many times.
EN_BOILERPLATE = ("Click here to subscribe to our weekly newsletter.",
                  "Share this page with your friends.")
ZH_BOILERPLATE = ("点击这里订阅我们的每周简报。", "把这个页面分享给你的朋友。")

# Short fragments for documents that are nothing but bullet lines.
EN_BULLET_WORDS = ("home", "news", "login", "menu", "shop", "help", "more", "top", "back", "next")
ZH_BULLET_WORDS = ("首页", "新闻", "登录", "菜单", "商店", "帮助", "更多", "顶部", "返回", "下一页")

# Symbol runs for symbol-heavy junk.
SYMBOL_RUNS = ("####", "$$$", "@@@", "%%%", "&&&", "***", "~~~", "+++", "===", "|||", "^^^", ">>>")

# Prose that mentions the model's special tokens; they must survive as ordinary text.
EN_TOKEN_SENTENCES = (
    "The label on the old jar simply said [MASK], and nobody knew what had been inside.",
    "By mistake she typed <|endoftext|> into the library catalogue, and it found nothing at all.",
    "On the old timetable the stop is printed as sop; the depot next to it is marked [gMASK], "
    "and the siding is marked [sMASK] or eop on older maps.",
)
ZH_TOKEN_SENTENCES = (
    "旧罐子的标签上只写着[MASK]，谁也不知道里面原来装的是什么。",
    "她不小心在图书目录里输入了<|endoftext|>，结果什么也没找到。",
    "旧时刻表上这一站印作sop；旁边的车库用褪色的墨水标着[gMASK]，老地图上的岔道写着[sMASK]或eop。",
)
