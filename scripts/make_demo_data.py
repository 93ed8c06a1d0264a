#!/usr/bin/env python3
"""Write the offline demo set `assets/demo/xquad.<lang>.json` (12 languages).

Four short passages written for this project (not taken from XQuAD, SQuAD or Wikipedia),
one article each, with three questions per passage, translated into the other 11 XQuAD
languages. The files use the SQuAD-v1.1 JSON layout of `tests/fixtures/xquad-mini`.

Every answer is given as text only; its `answer_start` is computed here as an offset in
Unicode code points (Python `str.find`), and the script stops if an answer is missing from
its context or occurs more than once, so offsets cannot be mistyped.

Usage (from the repository root): python3 scripts/make_demo_data.py
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "assets" / "demo"
LANGS = "en de es vi zh hi ar el ro ru th tr".split()

# (id stem, title, {lang: (context, [(question, answer), ...])}); the question lists of one
# article are parallel across languages. Titles stay English in every file, as in XQuAD.
ARTICLES = [
    (
        "demo-lighthouse",
        "Maren_Point_Lighthouse",
        {
            "en": (
                "The lighthouse on Maren Point was built in 1887 to guide fishing boats past "
                "the rocks. For forty years its keeper was Ida Holm, who climbed the 112 steps "
                "of the tower every evening at sunset. She polished the great lens, wound the "
                "clockwork that turned the lamp and wrote down the weather in a logbook. In "
                "1961 the light was automated, and the keeper's house became a small museum.",
                [
                    ("When was the lighthouse on Maren Point built?", "1887"),
                    ("Who was the keeper of the lighthouse for forty years?", "Ida Holm"),
                    (
                        "What did the keeper's house become after the light was automated?",
                        "a small museum",
                    ),
                ],
            ),
            "de": (
                "Der Leuchtturm auf Maren Point wurde 1887 gebaut, um Fischerboote sicher an "
                "den Felsen vorbeizuleiten. Vierzig Jahre lang war Ida Holm seine Wärterin; "
                "jeden Abend bei Sonnenuntergang stieg sie die 112 Stufen des Turms hinauf. Sie "
                "polierte die große Linse, zog das Uhrwerk auf, das die Lampe drehte, und trug "
                "das Wetter in ein Logbuch ein. 1961 wurde das Leuchtfeuer automatisiert, und "
                "aus dem Wärterhaus wurde ein kleines Museum.",
                [
                    ("Wann wurde der Leuchtturm auf Maren Point gebaut?", "1887"),
                    ("Wer war vierzig Jahre lang die Wärterin des Leuchtturms?", "Ida Holm"),
                    (
                        "Was wurde aus dem Wärterhaus, nachdem das Leuchtfeuer automatisiert "
                        "worden war?",
                        "ein kleines Museum",
                    ),
                ],
            ),
            "es": (
                "El faro de Maren Point se construyó en 1887 para ayudar a los barcos de pesca "
                "a sortear las rocas. Durante cuarenta años su farera fue Ida Holm, que cada "
                "tarde, al ponerse el sol, subía los 112 escalones de la torre. Pulía la gran "
                "lente, daba cuerda al mecanismo de relojería que hacía girar la lámpara y "
                "anotaba el tiempo en un cuaderno de bitácora. En 1961 la luz se automatizó y "
                "la casa de la farera se convirtió en un pequeño museo.",
                [
                    ("¿Cuándo se construyó el faro de Maren Point?", "1887"),
                    ("¿Quién fue la farera del faro durante cuarenta años?", "Ida Holm"),
                    (
                        "¿En qué se convirtió la casa de la farera después de que la luz se "
                        "automatizara?",
                        "un pequeño museo",
                    ),
                ],
            ),
            "vi": (
                "Ngọn hải đăng trên mũi Maren được xây dựng vào năm 1887 để dẫn đường cho các "
                "thuyền đánh cá đi qua những bãi đá. Suốt bốn mươi năm, người gác hải đăng là "
                "Ida Holm; chiều nào bà cũng leo 112 bậc thang của tháp vào lúc hoàng hôn. Bà "
                "lau bóng thấu kính lớn, lên dây cót cho bộ máy làm quay ngọn đèn và ghi chép "
                "thời tiết vào sổ nhật ký. Năm 1961, ngọn đèn được tự động hóa và ngôi nhà của "
                "người gác trở thành một bảo tàng nhỏ.",
                [
                    ("Ngọn hải đăng trên mũi Maren được xây dựng khi nào?", "1887"),
                    ("Ai là người gác hải đăng trong suốt bốn mươi năm?", "Ida Holm"),
                    (
                        "Ngôi nhà của người gác trở thành gì sau khi ngọn đèn được tự động hóa?",
                        "một bảo tàng nhỏ",
                    ),
                ],
            ),
            "zh": (
                "马伦角灯塔建于1887年，用来引导渔船安全绕过礁石。在长达四十年的时间里，灯塔的"
                "看守人是艾达·霍尔姆，她每天傍晚日落时分都要爬上塔内的112级台阶。她擦亮巨大的"
                "透镜，给转动灯具的发条装置上弦，并在日志上记录天气。1961年，灯塔实现了自动化，"
                "看守人的房子变成了一座小型博物馆。",
                [
                    ("马伦角灯塔建于何时？", "1887年"),
                    ("谁担任了四十年的灯塔看守人？", "艾达·霍尔姆"),
                    ("灯塔实现自动化后，看守人的房子变成了什么？", "一座小型博物馆"),
                ],
            ),
            "hi": (
                "मारेन पॉइंट का प्रकाशस्तंभ 1887 में बनाया गया था, ताकि मछली पकड़ने वाली नावें "
                "चट्टानों से बचकर निकल सकें। चालीस वर्षों तक इसकी रखवाली इडा होल्म ने की, जो हर "
                "शाम सूर्यास्त के समय मीनार की 112 सीढ़ियाँ चढ़ती थीं। वे बड़े लेंस को चमकाती थीं, "
                "दीपक को घुमाने वाली घड़ीनुमा मशीन में चाबी भरती थीं और एक लॉगबुक में मौसम का "
                "हाल लिखती थीं। 1961 में बत्ती को स्वचालित कर दिया गया और रखवाले का घर एक छोटा "
                "संग्रहालय बन गया।",
                [
                    ("मारेन पॉइंट का प्रकाशस्तंभ कब बनाया गया था?", "1887"),
                    ("चालीस वर्षों तक प्रकाशस्तंभ की रखवाली किसने की?", "इडा होल्म"),
                    (
                        "बत्ती के स्वचालित होने के बाद रखवाले का घर क्या बन गया?",
                        "एक छोटा संग्रहालय",
                    ),
                ],
            ),
            "ar": (
                "بُني منار رأس مارين عام 1887 لإرشاد قوارب الصيد كي تمر بأمان بجوار الصخور. "
                "وطوال أربعين عامًا كانت حارسته إيدا هولم، التي كانت تصعد درجات البرج البالغ "
                "عددها 112 درجة كل مساء عند غروب الشمس. كانت تلمّع العدسة الكبيرة، وتملأ "
                "الآلية الزنبركية التي تدير المصباح، وتدوّن أحوال الطقس في سجل خاص. وفي عام "
                "1961 أصبح الضوء يعمل آليًا، وتحوّل منزل الحارس إلى متحف صغير.",
                [
                    ("متى بُني منار رأس مارين؟", "1887"),
                    ("من كانت حارسة المنار طوال أربعين عامًا؟", "إيدا هولم"),
                    ("إلى ماذا تحوّل منزل الحارس بعد أن أصبح الضوء يعمل آليًا؟", "متحف صغير"),
                ],
            ),
            "el": (
                "Ο φάρος στο ακρωτήριο Μάρεν χτίστηκε το 1887 για να οδηγεί τα ψαράδικα σκάφη "
                "με ασφάλεια δίπλα από τα βράχια. Για σαράντα χρόνια φύλακάς του ήταν η Ίντα "
                "Χολμ, που κάθε βράδυ στο ηλιοβασίλεμα ανέβαινε τα 112 σκαλοπάτια του πύργου. "
                "Γυάλιζε τον μεγάλο φακό, κούρδιζε τον μηχανισμό που γύριζε τη λάμπα και "
                "κατέγραφε τον καιρό σε ένα ημερολόγιο. Το 1961 ο φάρος αυτοματοποιήθηκε και "
                "το σπίτι του φύλακα έγινε ένα μικρό μουσείο.",
                [
                    ("Πότε χτίστηκε ο φάρος στο ακρωτήριο Μάρεν;", "1887"),
                    ("Ποια ήταν η φύλακας του φάρου για σαράντα χρόνια;", "Ίντα Χολμ"),
                    (
                        "Τι έγινε το σπίτι του φύλακα μετά την αυτοματοποίηση του φάρου;",
                        "ένα μικρό μουσείο",
                    ),
                ],
            ),
            "ro": (
                "Farul de pe Maren Point a fost construit în 1887 pentru a călăuzi bărcile de "
                "pescuit pe lângă stânci. Timp de patruzeci de ani, paznica farului a fost Ida "
                "Holm, care urca în fiecare seară, la apusul soarelui, cele 112 trepte ale "
                "turnului. Lustruia lentila cea mare, întorcea mecanismul de ceasornic care "
                "rotea lampa și nota vremea într-un jurnal de bord. În 1961 lumina a fost "
                "automatizată, iar casa paznicului a devenit un mic muzeu.",
                [
                    ("Când a fost construit farul de pe Maren Point?", "1887"),
                    ("Cine a fost paznica farului timp de patruzeci de ani?", "Ida Holm"),
                    (
                        "Ce a devenit casa paznicului după ce lumina a fost automatizată?",
                        "un mic muzeu",
                    ),
                ],
            ),
            "ru": (
                "Маяк на мысе Марен построили в 1887 году, чтобы проводить рыбацкие лодки мимо "
                "скал. Сорок лет его смотрительницей была Ида Хольм, которая каждый вечер на "
                "закате поднималась по 112 ступеням башни. Она полировала большую линзу, "
                "заводила часовой механизм, вращавший лампу, и записывала погоду в вахтенный "
                "журнал. В 1961 году маяк автоматизировали, а дом смотрителя стал небольшим "
                "музеем.",
                [
                    ("Когда построили маяк на мысе Марен?", "1887"),
                    ("Кто сорок лет был смотрительницей маяка?", "Ида Хольм"),
                    ("Чем стал дом смотрителя после автоматизации маяка?", "небольшим музеем"),
                ],
            ),
            "th": (
                "ประภาคารที่แหลมมาเรนสร้างขึ้นในปี 1887 เพื่อนำทางเรือประมงให้แล่นผ่านโขดหินได้อย่าง"
                "ปลอดภัย ตลอดสี่สิบปี ผู้ดูแลประภาคารคือไอดา โฮล์ม ซึ่งปีนบันได 112 ขั้นของหอคอย"
                "ทุกเย็นในยามพระอาทิตย์ตก เธอขัดเลนส์ขนาดใหญ่ ไขลานกลไกที่หมุนตะเกียง และจด"
                "สภาพอากาศลงในสมุดบันทึก ในปี 1961 ไฟของประภาคารเปลี่ยนเป็นระบบอัตโนมัติ และบ้าน"
                "ของผู้ดูแลก็กลายเป็นพิพิธภัณฑ์ขนาดเล็ก",
                [
                    ("ประภาคารที่แหลมมาเรนสร้างขึ้นเมื่อใด", "1887"),
                    ("ใครเป็นผู้ดูแลประภาคารตลอดสี่สิบปี", "ไอดา โฮล์ม"),
                    (
                        "หลังจากไฟเปลี่ยนเป็นระบบอัตโนมัติ บ้านของผู้ดูแลกลายเป็นอะไร",
                        "พิพิธภัณฑ์ขนาดเล็ก",
                    ),
                ],
            ),
            "tr": (
                "Maren Burnu'ndaki deniz feneri, balıkçı teknelerinin kayalıkların yanından "
                "güvenle geçmesine yol göstermek için 1887'de inşa edildi. Kırk yıl boyunca "
                "fenerin bekçisi Ida Holm'du; her akşam gün batımında kulenin 112 basamağını "
                "tırmanırdı. Büyük merceği parlatır, lambayı döndüren saat mekanizmasını kurar "
                "ve hava durumunu bir seyir defterine yazardı. 1961'de fener otomatik hâle "
                "getirildi ve bekçi evi küçük bir müze hâline geldi.",
                [
                    ("Maren Burnu'ndaki deniz feneri ne zaman inşa edildi?", "1887"),
                    ("Kırk yıl boyunca fenerin bekçisi kimdi?", "Ida Holm"),
                    (
                        "Fener otomatik hâle getirildikten sonra bekçi evi ne hâline geldi?",
                        "küçük bir müze",
                    ),
                ],
            ),
        },
    ),
    (
        "demo-bees",
        "How_Bees_Make_Honey",
        {
            "en": (
                "Honey bees make honey from the nectar of flowers. A forager bee sucks up "
                "nectar with its long tongue and carries it back to the hive in a special honey "
                "stomach. There, younger bees pass the nectar from mouth to mouth and spread it "
                "in wax cells, where much of the water slowly evaporates. When the honey is "
                "thick enough, the bees seal each cell with a thin cap of wax. To fill a single "
                "jar, a colony must visit about two million flowers.",
                [
                    ("What does a forager bee use to suck up nectar?", "its long tongue"),
                    (
                        "What do the bees seal each cell with when the honey is thick enough?",
                        "a thin cap of wax",
                    ),
                    (
                        "About how many flowers must a colony visit to fill a single jar of "
                        "honey?",
                        "about two million",
                    ),
                ],
            ),
            "de": (
                "Honigbienen stellen Honig aus dem Nektar von Blüten her. Eine Sammelbiene "
                "saugt den Nektar mit ihrer langen Zunge auf und trägt ihn in einem besonderen "
                "Honigmagen zurück in den Stock. Dort geben jüngere Bienen den Nektar von Mund "
                "zu Mund weiter und verteilen ihn in Wachszellen, wo ein Großteil des Wassers "
                "langsam verdunstet. Wenn der Honig dick genug ist, verschließen die Bienen jede "
                "Zelle mit einem dünnen Wachsdeckel. Um ein einziges Glas zu füllen, muss ein "
                "Bienenvolk etwa zwei Millionen Blüten besuchen.",
                [
                    ("Womit saugt eine Sammelbiene den Nektar auf?", "ihrer langen Zunge"),
                    (
                        "Womit verschließen die Bienen jede Zelle, wenn der Honig dick genug ist?",
                        "einem dünnen Wachsdeckel",
                    ),
                    (
                        "Wie viele Blüten muss ein Bienenvolk ungefähr besuchen, um ein einziges "
                        "Glas Honig zu füllen?",
                        "etwa zwei Millionen",
                    ),
                ],
            ),
            "es": (
                "Las abejas melíferas elaboran la miel a partir del néctar de las flores. Una "
                "abeja recolectora sorbe el néctar con su larga lengua y lo lleva de vuelta a "
                "la colmena en un estómago especial para la miel. Allí, abejas más jóvenes se "
                "pasan el néctar de boca en boca y lo extienden en celdas de cera, donde gran "
                "parte del agua se evapora lentamente. Cuando la miel es lo bastante espesa, "
                "las abejas sellan cada celda con una fina tapa de cera. Para llenar un solo "
                "tarro, una colonia debe visitar unos dos millones de flores.",
                [
                    ("¿Con qué sorbe el néctar una abeja recolectora?", "su larga lengua"),
                    (
                        "¿Con qué sellan las abejas cada celda cuando la miel es lo bastante "
                        "espesa?",
                        "una fina tapa de cera",
                    ),
                    (
                        "¿Aproximadamente cuántas flores debe visitar una colonia para llenar un "
                        "solo tarro de miel?",
                        "unos dos millones",
                    ),
                ],
            ),
            "vi": (
                "Ong mật làm ra mật ong từ mật hoa. Một con ong thợ đi kiếm ăn hút mật hoa bằng "
                "chiếc lưỡi dài của nó rồi mang về tổ trong một chiếc dạ dày đặc biệt gọi là dạ "
                "dày mật. Tại đó, những con ong trẻ hơn truyền mật hoa cho nhau từ miệng sang "
                "miệng và trải nó vào các ô sáp, nơi phần lớn nước từ từ bay hơi. Khi mật đã đủ "
                "đặc, đàn ong bịt kín từng ô bằng một lớp nắp sáp mỏng. Để làm đầy chỉ một hũ, "
                "cả đàn ong phải ghé thăm khoảng hai triệu bông hoa.",
                [
                    ("Ong thợ đi kiếm ăn dùng gì để hút mật hoa?", "chiếc lưỡi dài"),
                    (
                        "Khi mật đã đủ đặc, đàn ong bịt kín từng ô bằng gì?",
                        "một lớp nắp sáp mỏng",
                    ),
                    (
                        "Để làm đầy một hũ mật ong, cả đàn ong phải ghé thăm khoảng bao nhiêu "
                        "bông hoa?",
                        "khoảng hai triệu",
                    ),
                ],
            ),
            "zh": (
                "蜜蜂用花朵的花蜜酿造蜂蜜。采集蜂用长长的舌头吸取花蜜，并把它装在一个特殊的蜜胃"
                "里带回蜂巢。在那里，较年轻的蜜蜂口对口地传递花蜜，再把它铺进蜡质的巢房，让其中"
                "的大部分水分慢慢蒸发。当蜂蜜变得足够浓稠时，蜜蜂会用一层薄薄的蜡盖封住每个巢"
                "房。要装满仅仅一罐蜂蜜，一个蜂群必须造访大约两百万朵花。",
                [
                    ("采集蜂用什么吸取花蜜？", "长长的舌头"),
                    ("当蜂蜜足够浓稠时，蜜蜂用什么封住每个巢房？", "一层薄薄的蜡盖"),
                    ("要装满一罐蜂蜜，一个蜂群大约必须造访多少朵花？", "大约两百万"),
                ],
            ),
            "hi": (
                "मधुमक्खियाँ फूलों के मकरंद से शहद बनाती हैं। भोजन जुटाने वाली मधुमक्खी अपनी "
                "लंबी जीभ से मकरंद चूसती है और उसे एक विशेष शहद-पेट में भरकर छत्ते तक वापस "
                "लाती है। वहाँ कम उम्र की मधुमक्खियाँ मकरंद को एक-दूसरे के मुँह में देती हैं और "
                "उसे मोम के कोष्ठों में फैला देती हैं, जहाँ उसका अधिकांश पानी धीरे-धीरे भाप बनकर "
                "उड़ जाता है। जब शहद पर्याप्त गाढ़ा हो जाता है, तो मधुमक्खियाँ हर कोष्ठ को मोम की "
                "एक पतली परत से बंद कर देती हैं। शहद का केवल एक जार भरने के लिए एक छत्ते की "
                "मधुमक्खियों को लगभग बीस लाख फूलों पर जाना पड़ता है।",
                [
                    ("भोजन जुटाने वाली मधुमक्खी मकरंद किससे चूसती है?", "अपनी लंबी जीभ"),
                    (
                        "शहद पर्याप्त गाढ़ा होने पर मधुमक्खियाँ हर कोष्ठ को किससे बंद करती हैं?",
                        "मोम की एक पतली परत",
                    ),
                    (
                        "शहद का एक जार भरने के लिए एक छत्ते की मधुमक्खियों को लगभग कितने फूलों "
                        "पर जाना पड़ता है?",
                        "लगभग बीस लाख",
                    ),
                ],
            ),
            "ar": (
                "يصنع النحل العسل من رحيق الأزهار. تمتص النحلة الجامعة الرحيق بلسانها الطويل "
                "وتحمله عائدة إلى الخلية في معدة خاصة تُسمى معدة العسل. وهناك تتناقل النحلات "
                "الأصغر سنًا الرحيق من فم إلى فم وتنشره في العيون الشمعية السداسية، حيث يتبخر "
                "معظم الماء ببطء. وعندما يصبح العسل كثيفًا بما يكفي، يغلق النحل كل عين بغطاء "
                "رقيق من الشمع. ولملء وعاء واحد فقط، يجب على طائفة النحل أن تزور نحو مليوني زهرة.",
                [
                    ("بماذا تمتص النحلة الجامعة الرحيق؟", "لسانها الطويل"),
                    (
                        "بماذا يغلق النحل كل عين سداسية عندما يصبح العسل كثيفًا بما يكفي؟",
                        "غطاء رقيق من الشمع",
                    ),
                    (
                        "كم زهرة تقريبًا يجب أن تزورها طائفة النحل لملء وعاء واحد من العسل؟",
                        "نحو مليوني زهرة",
                    ),
                ],
            ),
            "el": (
                "Οι μέλισσες φτιάχνουν το μέλι από το νέκταρ των λουλουδιών. Μια συλλέκτρια "
                "μέλισσα ρουφά το νέκταρ με τη μακριά γλώσσα της και το μεταφέρει πίσω στην "
                "κυψέλη σε ένα ειδικό στομάχι για το μέλι. Εκεί, νεότερες μέλισσες περνούν το "
                "νέκταρ από στόμα σε στόμα και το απλώνουν σε κελιά από κερί, όπου μεγάλο μέρος "
                "του νερού εξατμίζεται αργά. Όταν το μέλι γίνει αρκετά πηχτό, οι μέλισσες "
                "σφραγίζουν κάθε κελί με ένα λεπτό καπάκι από κερί. Για να γεμίσει ένα μόνο "
                "βάζο, ένα μελίσσι πρέπει να επισκεφθεί περίπου δύο εκατομμύρια λουλούδια.",
                [
                    ("Με τι ρουφά το νέκταρ μια συλλέκτρια μέλισσα;", "τη μακριά γλώσσα της"),
                    (
                        "Με τι σφραγίζουν οι μέλισσες κάθε κελί όταν το μέλι γίνει αρκετά πηχτό;",
                        "ένα λεπτό καπάκι από κερί",
                    ),
                    (
                        "Περίπου πόσα λουλούδια πρέπει να επισκεφθεί ένα μελίσσι για να γεμίσει "
                        "ένα βάζο μέλι;",
                        "περίπου δύο εκατομμύρια",
                    ),
                ],
            ),
            "ro": (
                "Albinele melifere fac mierea din nectarul florilor. O albină culegătoare sorbe "
                "nectarul cu limba ei lungă și îl duce înapoi în stup într-un stomac special "
                "pentru miere. Acolo, albinele mai tinere își transmit nectarul din gură în gură "
                "și îl întind în celule de ceară, unde o mare parte din apă se evaporă încet. "
                "Când mierea este destul de groasă, albinele închid fiecare celulă cu un "
                "căpăcel subțire de ceară. Pentru a umple un singur borcan, o colonie trebuie "
                "să viziteze aproximativ două milioane de flori.",
                [
                    ("Cu ce sorbe nectarul o albină culegătoare?", "limba ei lungă"),
                    (
                        "Cu ce închid albinele fiecare celulă când mierea este destul de groasă?",
                        "un căpăcel subțire de ceară",
                    ),
                    (
                        "Aproximativ câte flori trebuie să viziteze o colonie pentru a umple un "
                        "singur borcan de miere?",
                        "aproximativ două milioane",
                    ),
                ],
            ),
            "ru": (
                "Медоносные пчёлы делают мёд из нектара цветов. Пчела-сборщица всасывает нектар "
                "своим длинным язычком и приносит его в улей в особом медовом зобике. Там пчёлы "
                "помоложе передают нектар друг другу изо рта в рот и раскладывают его по "
                "восковым ячейкам, где большая часть воды медленно испаряется. Когда мёд "
                "становится достаточно густым, пчёлы запечатывают каждую ячейку тонкой восковой "
                "крышечкой. Чтобы наполнить всего одну банку, пчелиная семья должна посетить "
                "около двух миллионов цветков.",
                [
                    ("Чем пчела-сборщица всасывает нектар?", "своим длинным язычком"),
                    (
                        "Чем пчёлы запечатывают каждую ячейку, когда мёд становится достаточно "
                        "густым?",
                        "тонкой восковой крышечкой",
                    ),
                    (
                        "Примерно сколько цветков должна посетить пчелиная семья, чтобы наполнить "
                        "одну банку мёда?",
                        "около двух миллионов",
                    ),
                ],
            ),
            "th": (
                "ผึ้งผลิตน้ำผึ้งจากน้ำหวานของดอกไม้ ผึ้งงานที่ออกหาอาหารจะดูดน้ำหวานด้วยลิ้นที่ยาว"
                "ของมัน แล้วนำกลับไปยังรังในกระเพาะพิเศษที่เรียกว่ากระเพาะน้ำผึ้ง ที่นั่น ผึ้งที่"
                "อายุน้อยกว่าจะส่งต่อน้ำหวานจากปากสู่ปาก และเกลี่ยลงในหลอดรวงที่ทำจากขี้ผึ้ง ซึ่ง"
                "น้ำส่วนใหญ่จะค่อย ๆ ระเหยออกไป เมื่อน้ำผึ้งข้นพอแล้ว ผึ้งจะปิดหลอดรวงแต่ละหลอด"
                "ด้วยฝาขี้ผึ้งบาง ๆ การจะเติมน้ำผึ้งให้เต็มเพียงหนึ่งขวด ผึ้งทั้งรังต้องบินไปยัง"
                "ดอกไม้ประมาณสองล้านดอก",
                [
                    ("ผึ้งงานที่ออกหาอาหารใช้อะไรดูดน้ำหวาน", "ลิ้นที่ยาว"),
                    ("เมื่อน้ำผึ้งข้นพอแล้ว ผึ้งปิดหลอดรวงแต่ละหลอดด้วยอะไร", "ฝาขี้ผึ้งบาง ๆ"),
                    (
                        "ผึ้งทั้งรังต้องบินไปยังดอกไม้ประมาณกี่ดอกเพื่อเติมน้ำผึ้งให้เต็มหนึ่งขวด",
                        "ประมาณสองล้านดอก",
                    ),
                ],
            ),
            "tr": (
                "Bal arıları balı çiçeklerin nektarından yapar. Toplayıcı bir arı nektarı uzun "
                "diliyle emer ve özel bir bal midesinde kovana geri taşır. Orada daha genç "
                "arılar nektarı ağızdan ağıza aktarır ve balmumundan yapılmış petek gözlerine "
                "yayar; bu gözlerde suyun büyük kısmı yavaş yavaş buharlaşır. Bal yeterince "
                "koyulaştığında arılar her gözü ince bir balmumu kapakla kapatır. Tek bir "
                "kavanozu doldurmak için bir koloninin yaklaşık iki milyon çiçeği ziyaret etmesi "
                "gerekir.",
                [
                    ("Toplayıcı bir arı nektarı neyle emer?", "uzun diliyle"),
                    (
                        "Bal yeterince koyulaştığında arılar her gözü neyle kapatır?",
                        "ince bir balmumu kapakla",
                    ),
                    (
                        "Tek bir kavanoz bal için bir koloninin yaklaşık kaç çiçeği ziyaret etmesi "
                        "gerekir?",
                        "yaklaşık iki milyon",
                    ),
                ],
            ),
        },
    ),
    (
        "demo-festival",
        "Santorel_Cattle_Festival",
        {
            "en": (
                "Every year on the first Sunday of October, the mountain village of Santorel "
                "celebrates the return of its cows from the summer pastures. The animals are "
                "decorated with flowers and large bells, and the whole village walks with them "
                "down the old stone path. In the square, the baker Rosa Lenz sells a sweet "
                "walnut bread that is made only on this day. The festival ends at night with a "
                "bonfire and songs in the local dialect.",
                [
                    (
                        "When does Santorel celebrate the return of its cows?",
                        "the first Sunday of October",
                    ),
                    ("What are the animals decorated with?", "flowers and large bells"),
                    ("Who sells the sweet walnut bread in the square?", "Rosa Lenz"),
                ],
            ),
            "de": (
                "Jedes Jahr am ersten Sonntag im Oktober feiert das Bergdorf Santorel die "
                "Rückkehr seiner Kühe von den Sommerweiden. Die Tiere werden mit Blumen und "
                "großen Glocken geschmückt, und das ganze Dorf begleitet sie den alten Steinweg "
                "hinunter. Auf dem Platz verkauft die Bäckerin Rosa Lenz ein süßes Walnussbrot, "
                "das nur an diesem Tag gebacken wird. Das Fest endet nachts mit einem großen "
                "Feuer und Liedern im örtlichen Dialekt.",
                [
                    (
                        "Wann feiert Santorel die Rückkehr seiner Kühe?",
                        "am ersten Sonntag im Oktober",
                    ),
                    ("Womit werden die Tiere geschmückt?", "Blumen und großen Glocken"),
                    ("Wer verkauft auf dem Platz das süße Walnussbrot?", "Rosa Lenz"),
                ],
            ),
            "es": (
                "Cada año, el primer domingo de octubre, el pueblo de montaña de Santorel "
                "celebra el regreso de sus vacas de los pastos de verano. Los animales se "
                "adornan con flores y grandes cencerros, y todo el pueblo baja con ellos por el "
                "viejo camino de piedra. En la plaza, la panadera Rosa Lenz vende un pan dulce "
                "de nueces que solo se hace ese día. La fiesta termina por la noche con una "
                "hoguera y canciones en el dialecto local.",
                [
                    (
                        "¿Cuándo celebra Santorel el regreso de sus vacas?",
                        "el primer domingo de octubre",
                    ),
                    ("¿Con qué se adornan los animales?", "flores y grandes cencerros"),
                    ("¿Quién vende el pan dulce de nueces en la plaza?", "Rosa Lenz"),
                ],
            ),
            "vi": (
                "Hằng năm vào Chủ nhật đầu tiên của tháng Mười, ngôi làng miền núi Santorel tổ "
                "chức lễ mừng đàn bò trở về từ những đồng cỏ mùa hè. Những con vật được trang "
                "trí bằng hoa và những chiếc chuông lớn, và cả làng cùng đi theo chúng xuống con "
                "đường đá cũ. Tại quảng trường, cô thợ làm bánh Rosa Lenz bán một loại bánh mì "
                "ngọt nhân óc chó chỉ được làm vào ngày này. Lễ hội kết thúc vào ban đêm với một "
                "đống lửa trại và những bài hát bằng tiếng địa phương.",
                [
                    (
                        "Làng Santorel mừng đàn bò trở về vào khi nào?",
                        "Chủ nhật đầu tiên của tháng Mười",
                    ),
                    ("Những con vật được trang trí bằng gì?", "hoa và những chiếc chuông lớn"),
                    ("Ai bán bánh mì ngọt nhân óc chó ở quảng trường?", "Rosa Lenz"),
                ],
            ),
            "zh": (
                "每年十月的第一个星期日，山村桑托雷尔都会庆祝村里的奶牛从夏季牧场归来。牛身上"
                "装饰着鲜花和大铃铛，全村人陪着它们沿着古老的石径走下山。在广场上，面包师罗莎·"
                "伦茨出售一种甜味核桃面包，这种面包只在这一天制作。节日在夜里以篝火和用当地方言"
                "演唱的歌曲结束。",
                [
                    ("桑托雷尔在什么时候庆祝奶牛归来？", "十月的第一个星期日"),
                    ("牛身上装饰着什么？", "鲜花和大铃铛"),
                    ("谁在广场上出售甜味核桃面包？", "罗莎·伦茨"),
                ],
            ),
            "hi": (
                "हर साल अक्टूबर के पहले रविवार को पहाड़ी गाँव सैंटोरेल अपनी गायों के गर्मियों के "
                "चरागाहों से लौटने का उत्सव मनाता है। पशुओं को फूलों और बड़ी-बड़ी घंटियों से "
                "सजाया जाता है, और पूरा गाँव उनके साथ पत्थर के पुराने रास्ते से नीचे उतरता है। "
                "चौक में बेकर रोज़ा लेंज़ अखरोट वाली एक मीठी ब्रेड बेचती हैं, जो केवल इसी दिन "
                "बनाई जाती है। उत्सव रात में अलाव और स्थानीय बोली के गीतों के साथ समाप्त होता है।",
                [
                    (
                        "सैंटोरेल अपनी गायों की वापसी का उत्सव कब मनाता है?",
                        "अक्टूबर के पहले रविवार",
                    ),
                    ("पशुओं को किससे सजाया जाता है?", "फूलों और बड़ी-बड़ी घंटियों"),
                    ("चौक में अखरोट वाली मीठी ब्रेड कौन बेचती है?", "रोज़ा लेंज़"),
                ],
            ),
            "ar": (
                "في كل عام، في يوم الأحد الأول من شهر أكتوبر، تحتفل قرية سانتوريل الجبلية بعودة "
                "أبقارها من المراعي الصيفية. تُزيَّن الحيوانات بالزهور والأجراس الكبيرة، وتسير "
                "القرية بأكملها معها نزولًا على الطريق الحجري القديم. وفي الساحة، تبيع الخبازة "
                "روزا لينز خبزًا حلوًا بالجوز لا يُصنع إلا في هذا اليوم. وينتهي المهرجان ليلًا "
                "بنار كبيرة وأغانٍ باللهجة المحلية.",
                [
                    ("متى تحتفل سانتوريل بعودة أبقارها؟", "يوم الأحد الأول من شهر أكتوبر"),
                    ("بماذا تُزيَّن الحيوانات؟", "بالزهور والأجراس الكبيرة"),
                    ("من تبيع خبز الجوز الحلو في الساحة؟", "روزا لينز"),
                ],
            ),
            "el": (
                "Κάθε χρόνο, την πρώτη Κυριακή του Οκτωβρίου, το ορεινό χωριό Σαντορέλ "
                "γιορτάζει την επιστροφή των αγελάδων του από τα καλοκαιρινά βοσκοτόπια. Τα ζώα "
                "στολίζονται με λουλούδια και μεγάλα κουδούνια, και όλο το χωριό κατεβαίνει μαζί "
                "τους το παλιό πέτρινο μονοπάτι. Στην πλατεία, η φουρνάρισσα Ρόζα Λεντς πουλά "
                "ένα γλυκό ψωμί με καρύδια που φτιάχνεται μόνο αυτή τη μέρα. Η γιορτή τελειώνει "
                "τη νύχτα με μια μεγάλη φωτιά και τραγούδια στην τοπική διάλεκτο.",
                [
                    (
                        "Πότε γιορτάζει το Σαντορέλ την επιστροφή των αγελάδων του;",
                        "την πρώτη Κυριακή του Οκτωβρίου",
                    ),
                    ("Με τι στολίζονται τα ζώα;", "λουλούδια και μεγάλα κουδούνια"),
                    ("Ποια πουλά το γλυκό ψωμί με καρύδια στην πλατεία;", "Ρόζα Λεντς"),
                ],
            ),
            "ro": (
                "În fiecare an, în prima duminică din octombrie, satul de munte Santorel "
                "sărbătorește întoarcerea vacilor de pe pășunile de vară. Animalele sunt "
                "împodobite cu flori și clopote mari, iar tot satul coboară împreună cu ele pe "
                "vechiul drum de piatră. În piață, brutăreasa Rosa Lenz vinde o pâine dulce cu "
                "nuci care se face doar în această zi. Sărbătoarea se încheie noaptea cu un foc "
                "mare și cântece în graiul local.",
                [
                    (
                        "Când sărbătorește satul Santorel întoarcerea vacilor?",
                        "prima duminică din octombrie",
                    ),
                    ("Cu ce sunt împodobite animalele?", "flori și clopote mari"),
                    ("Cine vinde pâinea dulce cu nuci în piață?", "Rosa Lenz"),
                ],
            ),
            "ru": (
                "Каждый год в первое воскресенье октября горная деревня Санторель празднует "
                "возвращение своих коров с летних пастбищ. Животных украшают цветами и большими "
                "колокольчиками, и вся деревня спускается вместе с ними по старой каменной "
                "тропе. На площади пекарь Роза Ленц продаёт сладкий хлеб с грецкими орехами, "
                "который пекут только в этот день. Праздник заканчивается ночью большим костром "
                "и песнями на местном диалекте.",
                [
                    (
                        "Когда Санторель празднует возвращение своих коров?",
                        "в первое воскресенье октября",
                    ),
                    ("Чем украшают животных?", "цветами и большими колокольчиками"),
                    ("Кто продаёт на площади сладкий хлеб с грецкими орехами?", "Роза Ленц"),
                ],
            ),
            "th": (
                "ทุกปีในวันอาทิตย์แรกของเดือนตุลาคม หมู่บ้านบนภูเขาซานโตเรลจะจัดงานฉลองการกลับมา"
                "ของฝูงวัวจากทุ่งหญ้าฤดูร้อน วัวเหล่านี้จะถูกประดับด้วยดอกไม้และกระดิ่งใบใหญ่ และ"
                "ชาวบ้านทั้งหมู่บ้านจะเดินลงมาตามทางหินเก่าพร้อมกับพวกมัน ที่ลานกลางหมู่บ้าน "
                "คนทำขนมปังชื่อโรซา เลนซ์ ขายขนมปังหวานใส่วอลนัตที่ทำขึ้นเฉพาะในวันนี้เท่านั้น "
                "งานเทศกาลจบลงในยามค่ำคืนด้วยกองไฟและบทเพลงภาษาถิ่น",
                [
                    (
                        "หมู่บ้านซานโตเรลฉลองการกลับมาของฝูงวัวเมื่อใด",
                        "วันอาทิตย์แรกของเดือนตุลาคม",
                    ),
                    ("วัวเหล่านี้ถูกประดับด้วยอะไร", "ดอกไม้และกระดิ่งใบใหญ่"),
                    ("ใครขายขนมปังหวานใส่วอลนัตที่ลานกลางหมู่บ้าน", "โรซา เลนซ์"),
                ],
            ),
            "tr": (
                "Her yıl ekim ayının ilk pazar günü, Santorel dağ köyü ineklerinin yaz "
                "otlaklarından dönüşünü kutlar. Hayvanlar çiçekler ve büyük çanlarla süslenir "
                "ve bütün köy onlarla birlikte eski taş yoldan aşağı iner. Meydanda fırıncı Rosa "
                "Lenz, yalnızca bu günde yapılan cevizli tatlı bir ekmek satar. Şenlik gece "
                "büyük bir ateş ve yöresel ağızla söylenen şarkılarla sona erer.",
                [
                    (
                        "Santorel ineklerinin dönüşünü ne zaman kutlar?",
                        "ekim ayının ilk pazar günü",
                    ),
                    ("Hayvanlar neyle süslenir?", "çiçekler ve büyük çanlarla"),
                    ("Meydanda cevizli tatlı ekmeği kim satar?", "Rosa Lenz"),
                ],
            ),
        },
    ),
    (
        "demo-tram",
        "Brennick_Harbour_Tram",
        {
            "en": (
                "The tram line between Brennick station and the harbour opened in 1903. At "
                "first its cars were pulled by horses, but in 1912 the line was electrified and "
                "the journey time fell to eighteen minutes. After decades of decline, the line "
                "closed in 1968 and its rails were covered with asphalt. Thanks to a campaign "
                "by local residents, it reopened in 2015 with modern low-floor trams.",
                [
                    (
                        "When did the tram line between Brennick station and the harbour open?",
                        "1903",
                    ),
                    (
                        "What did the journey time fall to after the line was electrified?",
                        "eighteen minutes",
                    ),
                    ("In which year did the line reopen?", "2015"),
                ],
            ),
            "de": (
                "Die Straßenbahnlinie zwischen dem Bahnhof Brennick und dem Hafen wurde 1903 "
                "eröffnet. Anfangs wurden ihre Wagen von Pferden gezogen, doch 1912 wurde die "
                "Strecke elektrifiziert, und die Fahrzeit sank auf achtzehn Minuten. Nach "
                "Jahrzehnten des Niedergangs wurde die Linie 1968 stillgelegt, und ihre Schienen "
                "verschwanden unter Asphalt. Dank einer Kampagne der Anwohner wurde sie 2015 "
                "mit modernen Niederflurbahnen wiedereröffnet.",
                [
                    (
                        "Wann wurde die Straßenbahnlinie zwischen dem Bahnhof Brennick und dem "
                        "Hafen eröffnet?",
                        "1903",
                    ),
                    (
                        "Auf wie viel sank die Fahrzeit nach der Elektrifizierung der Strecke?",
                        "achtzehn Minuten",
                    ),
                    ("In welchem Jahr wurde die Linie wiedereröffnet?", "2015"),
                ],
            ),
            "es": (
                "La línea de tranvía entre la estación de Brennick y el puerto se inauguró en "
                "1903. Al principio sus coches eran tirados por caballos, pero en 1912 la línea "
                "se electrificó y el tiempo de viaje bajó a dieciocho minutos. Tras décadas de "
                "declive, la línea cerró en 1968 y sus raíles se cubrieron de asfalto. Gracias a "
                "una campaña de los vecinos, volvió a abrir en 2015 con modernos tranvías de "
                "piso bajo.",
                [
                    (
                        "¿Cuándo se inauguró la línea de tranvía entre la estación de Brennick y "
                        "el puerto?",
                        "1903",
                    ),
                    (
                        "¿A cuánto bajó el tiempo de viaje después de electrificarse la línea?",
                        "dieciocho minutos",
                    ),
                    ("¿En qué año volvió a abrir la línea?", "2015"),
                ],
            ),
            "vi": (
                "Tuyến tàu điện giữa ga Brennick và bến cảng được khai trương vào năm 1903. Ban "
                "đầu các toa xe do ngựa kéo, nhưng đến năm 1912 tuyến được điện khí hóa và thời "
                "gian đi lại giảm xuống còn mười tám phút. Sau nhiều thập kỷ suy thoái, tuyến "
                "đóng cửa vào năm 1968 và đường ray bị phủ nhựa đường. Nhờ một chiến dịch của cư "
                "dân địa phương, tuyến được mở lại vào năm 2015 với những chiếc tàu điện sàn "
                "thấp hiện đại.",
                [
                    (
                        "Tuyến tàu điện giữa ga Brennick và bến cảng được khai trương khi nào?",
                        "1903",
                    ),
                    (
                        "Sau khi tuyến được điện khí hóa, thời gian đi lại giảm xuống còn bao "
                        "nhiêu?",
                        "mười tám phút",
                    ),
                    ("Tuyến được mở lại vào năm nào?", "2015"),
                ],
            ),
            "zh": (
                "布伦尼克车站与港口之间的有轨电车线路于1903年开通。起初，车厢由马匹牵引，但在"
                "1912年线路实现了电气化，单程时间缩短到十八分钟。经过数十年的衰落，这条线路于"
                "1968年停运，铁轨也被铺上了沥青。得益于当地居民发起的一场运动，它于2015年重新"
                "开通，换上了现代化的低地板电车。",
                [
                    ("布伦尼克车站与港口之间的有轨电车线路是什么时候开通的？", "1903年"),
                    ("线路电气化后，单程时间缩短到了多少？", "十八分钟"),
                    ("这条线路是在哪一年重新开通的？", "2015年"),
                ],
            ),
            "hi": (
                "ब्रेनिक स्टेशन और बंदरगाह के बीच की ट्राम लाइन 1903 में शुरू हुई थी। शुरुआत में "
                "इसके डिब्बे घोड़े खींचते थे, लेकिन 1912 में लाइन का विद्युतीकरण किया गया और "
                "यात्रा का समय घटकर अठारह मिनट रह गया। दशकों की गिरावट के बाद 1968 में लाइन बंद "
                "हो गई और इसकी पटरियों पर डामर बिछा दिया गया। स्थानीय निवासियों के अभियान की "
                "बदौलत यह 2015 में आधुनिक लो-फ़्लोर ट्रामों के साथ फिर से शुरू हुई।",
                [
                    ("ब्रेनिक स्टेशन और बंदरगाह के बीच की ट्राम लाइन कब शुरू हुई थी?", "1903"),
                    ("विद्युतीकरण के बाद यात्रा का समय घटकर कितना रह गया?", "अठारह मिनट"),
                    ("लाइन किस वर्ष फिर से शुरू हुई?", "2015"),
                ],
            ),
            "ar": (
                "افتُتح خط الترام بين محطة برينيك والميناء عام 1903. في البداية كانت الخيول "
                "تجر عرباته، لكن جرت كهربة الخط عام 1912، فانخفض زمن الرحلة إلى ثماني عشرة "
                "دقيقة. وبعد عقود من التراجع أُغلق الخط عام 1968 وغُطيت قضبانه بالأسفلت. وبفضل "
                "حملة قام بها السكان المحليون، أُعيد افتتاحه عام 2015 بعربات ترام حديثة منخفضة "
                "الأرضية.",
                [
                    ("متى افتُتح خط الترام بين محطة برينيك والميناء؟", "1903"),
                    ("إلى كم انخفض زمن الرحلة بعد كهربة الخط؟", "ثماني عشرة دقيقة"),
                    ("في أي عام أُعيد افتتاح الخط؟", "2015"),
                ],
            ),
            "el": (
                "Η γραμμή του τραμ ανάμεσα στον σταθμό του Μπρένικ και το λιμάνι άνοιξε το 1903. "
                "Στην αρχή τα βαγόνια της τα έσερναν άλογα, όμως το 1912 η γραμμή εξηλεκτρίστηκε "
                "και ο χρόνος της διαδρομής μειώθηκε στα δεκαοκτώ λεπτά. Μετά από δεκαετίες "
                "παρακμής, η γραμμή έκλεισε το 1968 και οι ράγες της καλύφθηκαν με άσφαλτο. "
                "Χάρη σε μια εκστρατεία των κατοίκων της περιοχής, ξαναλειτούργησε το 2015 με "
                "σύγχρονα τραμ χαμηλού δαπέδου.",
                [
                    (
                        "Πότε άνοιξε η γραμμή του τραμ ανάμεσα στον σταθμό του Μπρένικ και το "
                        "λιμάνι;",
                        "1903",
                    ),
                    (
                        "Σε πόσο μειώθηκε ο χρόνος της διαδρομής μετά τον εξηλεκτρισμό της "
                        "γραμμής;",
                        "δεκαοκτώ λεπτά",
                    ),
                    ("Ποια χρονιά ξαναλειτούργησε η γραμμή;", "2015"),
                ],
            ),
            "ro": (
                "Linia de tramvai dintre gara Brennick și port a fost inaugurată în 1903. La "
                "început, vagoanele erau trase de cai, dar în 1912 linia a fost electrificată, "
                "iar durata călătoriei a scăzut la optsprezece minute. După decenii de declin, "
                "linia a fost închisă în 1968, iar șinele ei au fost acoperite cu asfalt. "
                "Datorită unei campanii a localnicilor, a fost redeschisă în 2015 cu tramvaie "
                "moderne cu podea joasă.",
                [
                    ("Când a fost inaugurată linia de tramvai dintre gara Brennick și port?", "1903"),
                    (
                        "La cât a scăzut durata călătoriei după electrificarea liniei?",
                        "optsprezece minute",
                    ),
                    ("În ce an a fost redeschisă linia?", "2015"),
                ],
            ),
            "ru": (
                "Трамвайная линия между станцией Бренник и гаванью открылась в 1903 году. "
                "Сначала вагоны тянули лошади, но в 1912 году линию электрифицировали, и время "
                "в пути сократилось до восемнадцати минут. После десятилетий упадка линию "
                "закрыли в 1968 году, а рельсы закатали в асфальт. Благодаря кампании местных "
                "жителей в 2015 году она открылась снова, и по ней пошли современные "
                "низкопольные трамваи.",
                [
                    (
                        "Когда открылась трамвайная линия между станцией Бренник и гаванью?",
                        "1903",
                    ),
                    (
                        "До скольких минут сократилось время в пути после электрификации линии?",
                        "восемнадцати минут",
                    ),
                    ("В каком году линия открылась снова?", "2015"),
                ],
            ),
            "th": (
                "เส้นทางรถรางระหว่างสถานีเบรนนิกกับท่าเรือเปิดให้บริการในปี 1903 ในช่วงแรกตู้รถราง"
                "ใช้ม้าลาก แต่ในปี 1912 เส้นทางนี้เปลี่ยนมาใช้ไฟฟ้า ทำให้เวลาเดินทางลดลงเหลือ"
                "สิบแปดนาที หลังจากซบเซาลงมาหลายทศวรรษ เส้นทางนี้ก็ปิดตัวลงในปี 1968 และรางถูก"
                "ปูทับด้วยยางมะตอย ด้วยการรณรงค์ของชาวบ้านในท้องถิ่น เส้นทางนี้จึงกลับมาเปิด"
                "อีกครั้งในปี 2015 พร้อมรถรางชานต่ำที่ทันสมัย",
                [
                    ("เส้นทางรถรางระหว่างสถานีเบรนนิกกับท่าเรือเปิดให้บริการเมื่อใด", "1903"),
                    ("หลังจากเปลี่ยนมาใช้ไฟฟ้า เวลาเดินทางลดลงเหลือเท่าใด", "สิบแปดนาที"),
                    ("เส้นทางนี้กลับมาเปิดอีกครั้งในปีใด", "2015"),
                ],
            ),
            "tr": (
                "Brennick istasyonu ile liman arasındaki tramvay hattı 1903'te açıldı. "
                "Başlangıçta vagonları atlar çekiyordu, ancak 1912'de hat elektriklendi ve "
                "yolculuk süresi on sekiz dakikaya indi. Onlarca yıl süren bir gerilemenin "
                "ardından hat 1968'de kapatıldı ve rayları asfaltla örtüldü. Yerel halkın "
                "yürüttüğü bir kampanya sayesinde hat, 2015'te modern alçak tabanlı "
                "tramvaylarla yeniden açıldı.",
                [
                    ("Brennick istasyonu ile liman arasındaki tramvay hattı ne zaman açıldı?", "1903"),
                    (
                        "Hat elektriklendikten sonra yolculuk süresi kaç dakikaya indi?",
                        "on sekiz dakikaya",
                    ),
                    ("Hat hangi yıl yeniden açıldı?", "2015"),
                ],
            ),
        },
    ),
]


def answer_start(context, text, where):
    """Code-point offset of the only occurrence of `text` in `context`."""
    start = context.find(text)
    if start < 0:
        sys.exit(f"{where}: answer '{text}' is not in the context")
    if context.find(text, start + 1) >= 0:
        sys.exit(f"{where}: answer '{text}' occurs more than once in the context")
    return start


def build(lang):
    data = []
    for stem, title, versions in ARTICLES:
        context, qas = versions[lang]
        if len(qas) != 3:
            sys.exit(f"{stem} ({lang}): expected 3 questions, found {len(qas)}")
        data.append(
            {
                "title": title,
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "answers": [
                                    {
                                        "answer_start": answer_start(
                                            context, answer, f"{stem}-{i} ({lang})"
                                        ),
                                        "text": answer,
                                    }
                                ],
                                "id": f"{stem}-{i}",
                                "question": question,
                            }
                            for i, (question, answer) in enumerate(qas, start=1)
                        ],
                    }
                ],
            }
        )
    return {"data": data, "version": "1.1"}


def main():
    for stem, _, versions in ARTICLES:
        missing = [lang for lang in LANGS if lang not in versions]
        if missing or len(versions) != len(LANGS):
            sys.exit(f"{stem}: languages missing or extra: {missing or sorted(versions)}")
    TARGET.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        path = TARGET / f"xquad.{lang}.json"
        text = json.dumps(build(lang), ensure_ascii=False, indent=1) + "\n"
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
